# Checks and settings for a CUDA libtorch 2.x (pip's torch, found through
# -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')).
# Included after find_package(Torch); with Debian's CPU libtorch 1.13 it sets nothing but
# LLMTUNE_TORCH_CUDA=OFF. docs/gpu.md says how the GPU build is configured.
#
# What a CUDA torch needs that the CPU build does not:
# - Its CMake config enables CUDA and finds the toolkit itself (nvcc on PATH or
#   CMAKE_CUDA_COMPILER; TORCH_CUDA_ARCH_LIST / CMAKE_CUDA_ARCHITECTURES pick the targets).
#   llmtune has no CUDA sources of its own: every kernel comes from libtorch.
# - Its C++ ABI must match the system libraries llmtune links (yaml-cpp, cpp-httplib, ...
#   pass std::string across their interfaces), which use the new (C++11) ABI.
# - src/dist builds the NCCL process group when torch ships ProcessGroupNCCL.hpp; that header
#   includes <nccl.h>, which pip's torch leaves to the nvidia-nccl wheel.

# libtorch's headers need C++20 from 2.12/2.13 on (they #error out under C++17 by 2.14); up
# to 2.11 C++17 is enough. Only those newer headers switch the whole build to C++20.
if(Torch_VERSION VERSION_GREATER_EQUAL 2.12)
  set(CMAKE_CXX_STANDARD 20)
  message(STATUS "llmtune: libtorch ${Torch_VERSION} needs C++20; building as C++20")
endif()

set(LLMTUNE_TORCH_CUDA OFF)
if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda OR TARGET c10_cuda)
  set(LLMTUNE_TORCH_CUDA ON)
endif()
message(STATUS "llmtune: libtorch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX}), CUDA ${LLMTUNE_TORCH_CUDA}")

if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
  message(FATAL_ERROR "This libtorch was built with the pre-C++11 ABI (_GLIBCXX_USE_CXX11_ABI=0 in "
    "TORCH_CXX_FLAGS); llmtune links system libraries built with the C++11 ABI, so the two cannot "
    "share std::string. Use a cxx11-ABI libtorch (pip wheels from torch 2.7 on, or the "
    "'cxx11-abi' libtorch archives).")
endif()

if(LLMTUNE_TORCH_CUDA AND EXISTS "${TORCH_INSTALL_PREFIX}/include/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
  # pip's nvidia-nccl wheel: <site-packages>/nvidia/nccl/include (torch sits in site-packages).
  get_filename_component(_llmtune_site "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
  find_path(LLMTUNE_NCCL_INCLUDE_DIR nccl.h
    HINTS ENV NCCL_INCLUDE_DIR ENV NCCL_ROOT
    PATHS "${_llmtune_site}/nvidia/nccl/include" "${_llmtune_site}/nvidia/cu13/include"
          "${_llmtune_site}/nvidia/cu12/include" ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include
    PATH_SUFFIXES include)
  if(NOT LLMTUNE_NCCL_INCLUDE_DIR)
    message(FATAL_ERROR "This CUDA libtorch ships ProcessGroupNCCL.hpp, which includes <nccl.h>, "
      "but nccl.h was not found (looked in ${_llmtune_site}/nvidia/nccl/include and the CUDA "
      "toolkit). Pass -DLLMTUNE_NCCL_INCLUDE_DIR=<dir holding nccl.h>.")
  endif()
  message(STATUS "llmtune: nccl.h in ${LLMTUNE_NCCL_INCLUDE_DIR}")
  # Directory scope, before the subdirectories: src/dist's process group is the one user.
  include_directories(SYSTEM "${LLMTUNE_NCCL_INCLUDE_DIR}")
endif()
