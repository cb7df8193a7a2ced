# Warning and optimisation flags for yolite's OWN targets (tests, tools, examples, benchmarks).
# Nothing here is attached to the exported yolite::yolite target: users keep their own flags.
add_library(yolite_build_flags INTERFACE)
target_compile_options(yolite_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${YOLITE_WERROR}>>:-Werror>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${YOLITE_NATIVE}>>:-march=native>)
# YOLITE_SANITIZE=address,undefined (any list -fsanitize= takes): every finding is fatal
# (-fno-sanitize-recover), so a UBSan report fails the test that triggered it instead of
# scrolling past. OpenMP works under ASan; CUDA sources are left alone (nvcc has no sanitizers).
if(YOLITE_SANITIZE)
  target_compile_options(yolite_build_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${YOLITE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer>)
  target_link_options(yolite_build_flags INTERFACE
    $<$<LINK_LANGUAGE:CXX>:-fsanitize=${YOLITE_SANITIZE} -fno-sanitize-recover=all>)
endif()
