# yolite_add_implementation(NAME): a static library NAME holding the bodies of yolite's API,
# compiled once, with this project's compiler and flags. Whatever links NAME compiles
# <yolite/yolite.hpp> as declarations only (YOLITE_SEPARATE_IMPL, see core/api.hpp):
#
#   find_package(yolite REQUIRED)
#   yolite_add_implementation(yolite_impl)
#   add_executable(app main.cpp)
#   target_link_libraries(app PRIVATE yolite_impl)   # main.cpp: seconds to compile, not 40 s
#
# Link one such library into a program, and no yolite::yolite header-only code that uses the
# API (Detector, Trainer, data::load_image/save_image) beside it.
set(_YOLITE_IMPLEMENTATION_CPP "${CMAKE_CURRENT_LIST_DIR}/yolite_implementation.cpp")

function(yolite_add_implementation name)
  add_library(${name} STATIC "${_YOLITE_IMPLEMENTATION_CPP}")
  target_link_libraries(${name} PUBLIC yolite::separate)
endfunction()
