# llmtune_use_torch(<target>): link libtorch and reuse one precompiled torch header.
# Parsing <torch/torch.h> costs ~15 s per file on 2 cores; the shared PCH pays it once.
#
# OpenMP matters: at::parallel_for is a header template that only runs in parallel when the
# caller is compiled with OpenMP (torch's CPU build uses it); without -fopenmp our kernels
# would silently run on one thread.
find_package(OpenMP REQUIRED)
function(llmtune_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
  target_compile_options(${target} PRIVATE ${TORCH_CXX_FLAGS_LIST})
  if(NOT target STREQUAL "llmtune_torch_pch")
    target_precompile_headers(${target} REUSE_FROM llmtune_torch_pch)
  endif()
endfunction()
