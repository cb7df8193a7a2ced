// The one file that compiles yolite's API (Detector, Trainer, image files) for a program whose
// other files include <yolite/yolite.hpp> in separate mode and so compile declarations only
// (include/yolite/core/api.hpp). yolite_add_implementation(NAME) in CMake builds it as a
// static library that carries the mode to whatever links it.
#define YOLITE_IMPLEMENTATION
#include <yolite/yolite.hpp>
