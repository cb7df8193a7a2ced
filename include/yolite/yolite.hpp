// yolite.hpp -- train and run YOLOv5-style object detectors in C++20, header-only.
//
// Include this one header and link OpenMP (the CMake target yolite::yolite does both):
//
//   find_package(yolite REQUIRED)
//   target_link_libraries(app PRIVATE yolite::yolite)
//
// The library reads like the pipeline, one folder per stage:
//   core/      Tensor<T>, Image, errors, Rng, OpenMP helpers
//   ops/       math kernels: cpu/ reference loops beside fast kernels, cuda/ twins
//   autograd/  Var<T>, the tape, gradient checking
//   nn/ model/ loss/ optim/ data/ train/ infer/ eval/ io/ viz/ synth/
#pragma once

#include "core/error.hpp"
#include "core/image.hpp"
#include "core/parallel.hpp"
#include "core/rng.hpp"
#include "core/tensor.hpp"

#include "autograd/variable.hpp"
#include "autograd/gradcheck.hpp"
