// core/api.hpp -- where the bodies of yolite's API functions are compiled.
//
// yolite is header-only: include a header and use it, nothing to build or link. Each file that
// includes <yolite/yolite.hpp> then also compiles the detector, the trainer and everything
// below them (kernels, autograd, loaders, parsers): some 40 s at -O2. A program that is rebuilt
// often can compile all of that once instead, in the way of stb's libraries:
//
//   // in every file of the program (CMake: link yolite::separate, which defines it for you)
//   #define YOLITE_SEPARATE_IMPL
//   #include <yolite/yolite.hpp>     // now only the API's declarations: a few seconds
//
//   // in exactly one file (CMake: yolite_add_implementation(mylib) builds it as a library)
//   #define YOLITE_IMPLEMENTATION
//   #include <yolite/yolite.hpp>     // the API's bodies, compiled once
//
// The API is what a program that embeds yolite uses: Detector (infer/detector.hpp), Trainer
// (train/trainer.hpp), data::load_image and data::save_image (data/image_file.hpp), the drawing
// helpers (viz/draw.hpp, small enough to stay inline). In separate mode yolite.hpp includes
// only their headers; any other header (tensors, autograd, kernels, ...) can still be included
// and works header-only as always. Use one mode for the whole program.
//
//   YOLITE_API         marks an API function: `inline` header-only, external in the one
//                      implementation file, declared only (no body) in separate mode
//   YOLITE_API_BODIES  1 where the bodies are compiled (header-only or YOLITE_IMPLEMENTATION)
#pragma once

#if defined(YOLITE_IMPLEMENTATION)
#define YOLITE_API
#define YOLITE_API_BODIES 1
#elif defined(YOLITE_SEPARATE_IMPL)
#define YOLITE_API
#define YOLITE_API_BODIES 0
#else
#define YOLITE_API inline
#define YOLITE_API_BODIES 1
#endif
