# Warning, target and floating-point flags for yolite's OWN targets (tests, tools, examples,
# benchmarks). Nothing here is attached to the exported yolite::yolite target: users keep their
# own flags.
#
# Instruction set: YOLITE_ARCH (-march=...), "native" by default; -DYOLITE_ARCH=x86-64-v3 builds
# the AVX2 paths, x86-64 the SSE2 ones, "" adds no -march. YOLITE_NATIVE=OFF is the same as "".
#
# Floating point: -ffp-contract=off. C++ lets a compiler fuse a*b+c into one FMA (GCC does by
# default), and where it does depends on -march and the tuning it implies: the same loop could
# round differently on an Intel and an AMD machine, and two loops that compute the same sum could
# round differently from each other. With contraction off, every scalar expression rounds as it
# is written, on every CPU; FMAs happen where a kernel asks for them (intrinsics, std::fma). Tests
# claim bit equality only between code paths that perform the same operations in the same order
# (see docs/testing.md); everything else is compared against a bound.
add_library(yolite_build_flags INTERFACE)
set(_yolite_march "${YOLITE_ARCH}")
if(NOT YOLITE_NATIVE)
  set(_yolite_march "")
endif()
target_compile_options(yolite_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -ffp-contract=off>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${YOLITE_WERROR}>>:-Werror>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${_yolite_march}>>:-march=${_yolite_march}>)
# YOLITE_SANITIZE=address,undefined (any list -fsanitize= takes): every finding is fatal
# (-fno-sanitize-recover), so a UBSan report fails the test that triggered it instead of
# scrolling past. OpenMP works under ASan; CUDA sources are left alone (nvcc has no sanitizers).
if(YOLITE_SANITIZE)
  target_compile_options(yolite_build_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${YOLITE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer>)
  target_link_options(yolite_build_flags INTERFACE
    $<$<LINK_LANGUAGE:CXX>:-fsanitize=${YOLITE_SANITIZE} -fno-sanitize-recover=all>)
endif()
