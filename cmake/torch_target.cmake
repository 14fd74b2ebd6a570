# llmtune_use_torch(<target>): link libtorch and reuse one precompiled torch header.
# Parsing <torch/torch.h> costs ~15 s per file on 2 cores; the shared PCH pays it once.
function(llmtune_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_compile_options(${target} PRIVATE ${TORCH_CXX_FLAGS_LIST})
  if(NOT target STREQUAL "llmtune_torch_pch")
    target_precompile_headers(${target} REUSE_FROM llmtune_torch_pch)
  endif()
endfunction()
