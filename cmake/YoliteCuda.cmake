# YoliteCuda.cmake -- optional CUDA build (-DYOLITE_CUDA=ON), included by the top-level CMakeLists.
#
# Enables the CUDA language (nvcc), and defines
#   yolite::cuda        INTERFACE target: yolite::yolite + the CUDA runtime + YOLITE_CUDA=1.
#                       Link it from any target whose .cu files include yolite/ops/cuda/*.cuh,
#                       or whose .cpp files include yolite/core/cuda/*.hpp.
#   yolite_cuda_flags   INTERFACE target with our own warning flags for .cu files
#                       (host side -Wall -Wextra; with YOLITE_WERROR nvcc's --Werror all-warnings
#                       and the host compiler's -Werror).
#   yolite::nccl        INTERFACE target, when NCCL is installed (it comes with the CUDA toolkit):
#                       yolite::cuda + libnccl + YOLITE_HAVE_NCCL=1, for dist/nccl.hpp.
# Architectures: CMAKE_CUDA_ARCHITECTURES if the user sets it, else "80;90" (A100, H100/H200).
# Only cudart is used: no cuDNN, no cuBLAS -- the kernels are our own.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures to build for")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# nvcc 12+ accepts -std=c++20 (host compiler g++ >= 10). CMake releases older than 3.28 (e.g.
# Debian 12's 3.25) do not know nvcc's C++20 flag, so teach it when missing.
if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  set(CMAKE_CUDA_STANDARD 20)
else()
  set(CMAKE_CUDA_STANDARD 17)
endif()
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)

add_library(yolite_cuda INTERFACE)
add_library(yolite::cuda ALIAS yolite_cuda)
target_link_libraries(yolite_cuda INTERFACE yolite::yolite CUDA::cudart)
target_compile_definitions(yolite_cuda INTERFACE YOLITE_CUDA=1)
# Eigen's headers (pulled in by core/tensor.hpp) trip nvcc diagnostics 20012 ("__host__
# annotation is ignored on a defaulted function") and 20015 (constexpr host function called from
# a __host__ __device__ one, in Eigen's host-only use); harmless here, so quiet for .cu files.
# yolite::yolite needs OpenMP (core/parallel.hpp); OpenMP::OpenMP_CXX only sets -fopenmp for
# C++ files, so pass it to the host compiler of .cu files here.
target_compile_options(yolite_cuda INTERFACE
  $<$<COMPILE_LANGUAGE:CUDA>:-diag-suppress=20012,20015 -Xcompiler=-fopenmp>)

# NCCL: device-buffer sums over the ranks of a job (dist/nccl.hpp).
find_path(YOLITE_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
find_library(YOLITE_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
if(YOLITE_NCCL_INCLUDE_DIR AND YOLITE_NCCL_LIBRARY)
  add_library(yolite_nccl INTERFACE)
  add_library(yolite::nccl ALIAS yolite_nccl)
  target_link_libraries(yolite_nccl INTERFACE yolite_cuda ${YOLITE_NCCL_LIBRARY})
  target_include_directories(yolite_nccl INTERFACE ${YOLITE_NCCL_INCLUDE_DIR})
  target_compile_definitions(yolite_nccl INTERFACE YOLITE_HAVE_NCCL=1)
  message(STATUS "yolite: NCCL for device sums over ranks (${YOLITE_NCCL_LIBRARY})")
else()
  message(STATUS "yolite: no NCCL (nccl.h and libnccl not found beside the CUDA toolkit)")
endif()

add_library(yolite_cuda_flags INTERFACE)
target_compile_options(yolite_cuda_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${YOLITE_WERROR}>>:--Werror=all-warnings -Xcompiler=-Werror>)

# The CUDA conv-stack benchmark (benchmarks/*.cu are not picked up by benchmarks/CMakeLists.txt).
if(YOLITE_BUILD_BENCHMARKS AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/../benchmarks/cuda_conv_stack.cu)
  add_executable(bench_cuda_conv_stack ${CMAKE_CURRENT_LIST_DIR}/../benchmarks/cuda_conv_stack.cu)
  target_link_libraries(bench_cuda_conv_stack PRIVATE yolite::cuda yolite_cuda_flags yolite_build_flags)
endif()
