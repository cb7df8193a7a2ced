// version.hpp -- the library's version (CMakeLists.txt reads it from here).
#pragma once
#define YOLITE_VERSION_MAJOR 0
#define YOLITE_VERSION_MINOR 10
#define YOLITE_VERSION_PATCH 0
#define YOLITE_VERSION "0.10.0"
