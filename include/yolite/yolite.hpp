// yolite.hpp -- train and run YOLOv5-style object detectors in C++20, header-only.
//
// Include this one header and link the CMake target (it brings OpenMP, Eigen, stb, json):
//
//   find_package(yolite REQUIRED)
//   target_link_libraries(app PRIVATE yolite::yolite)
//
// Detect objects with weights from `yolite train` (or a YOLOv5 .pt file):
//
//   #include <yolite/yolite.hpp>
//   int main() {
//     yolite::Detector det("runs/train/exp/weights/best.pt");   // DetectorOptions: imgsz, conf, ...
//     for (const yolite::Detection& d : det.detect("photo.jpg"))
//       std::printf("%s %.2f [%.0f %.0f %.0f %.0f]\n", det.name(d.cls).c_str(), d.score,
//                   d.x1, d.y1, d.x2, d.y2);
//   }
//
// Train (the same options as `yolite train`):
//
//   yolite::train::TrainOptions o;
//   o.data = "dataset.yaml"; o.cfg = "yolov5n"; o.imgsz = 320; o.epochs = 30;
//   yolite::train::Trainer trainer(o);
//   auto result = trainer.run();                 // runs/train/exp/weights/best.pt
//
// The library reads like the pipeline, one folder per stage, one file per idea:
//   core/      Tensor<T>, Image, errors, Rng, OpenMP helpers
//   ops/       math kernels: cpu/ reference loops beside fast kernels; cuda/ twins (.cu only)
//   autograd/  Var<T>, the tape, the differentiable ops, gradient checking
//   nn/        Module (PyTorch state-dict names), Conv, Bottleneck, C3, SPPF, Upsample, Concat
//   model/     YOLOv5 n/s/m/l/x specs, Detect, the model built at run time, summaries
//   loss/      IoU family, target assignment, YOLOv5's loss
//   optim/     SGD / Adam / AdamW, parameter groups, warm-up and schedules, EMA
//   data/      image I/O, COCO, YOLO txt, yaml, split, stats, letterbox, augment, loader
//   synth/     the synthetic bottle renderer
//   io/        zip, npy/npz, safetensors, checkpoints, YOLOv5 .pt import, protobuf, TensorBoard
//              events; video.hpp (FFmpeg, optional: target yolite::video) is not included here
//   train/     hyperparameters, the training loop, validation, plots, report.html
//   infer/     NMS, test-time augmentation, Detector
//   eval/      IoU matching, AP (YOLOv5 and COCO rules), confusion matrix
//   export/    ONNX (protobuf written by hand), PyTorch state-dict .pt, safetensors
//   viz/       bitmap font, boxes, grids, plots
//   dist/      the processes of one job (Comm): synth, val and train shared by MPI ranks; mpi.hpp
//              (MPI, optional: target yolite::mpi) is not included here
//
// Every file that includes this header compiles all of the above (some 40 s at -O2). A program
// rebuilt often can compile it once instead: link yolite::separate and add one implementation
// library (CMake: yolite_add_implementation(name)); this header then declares only the API --
// Detector, Trainer, load_image/save_image, the drawing helpers -- in a few seconds. See
// core/api.hpp.
//
// No global state: randomness flows through yolite::Rng objects seeded by the caller; the
// only per-thread setting is autograd's grad mode (NoGradGuard). Errors are yolite::Error.
#pragma once

#include "version.hpp"
#include "core/api.hpp"

#if YOLITE_API_BODIES

#include "core/cpu.hpp"
#include "core/error.hpp"
#include "core/image.hpp"
#include "core/parallel.hpp"
#include "core/rng.hpp"
#include "core/tensor.hpp"

#include "autograd/gradcheck.hpp"
#include "autograd/ops.hpp"
#include "autograd/variable.hpp"

#include "model/summary.hpp"
#include "model/weights.hpp"
#include "model/yolo.hpp"

#include "loss/yolo_loss.hpp"
#include "optim/adam.hpp"
#include "optim/ema.hpp"
#include "optim/sgd.hpp"

#include "data/augment.hpp"
#include "data/coco.hpp"
#include "data/convert.hpp"
#include "data/dataset_yaml.hpp"
#include "data/image_io.hpp"
#include "data/letterbox.hpp"
#include "data/loader.hpp"
#include "data/split.hpp"
#include "data/stats.hpp"
#include "data/yolo_txt.hpp"

#include "synth/dataset_writer.hpp"

#include "io/checkpoint.hpp"
#include "io/npy.hpp"
#include "io/torch_pt.hpp"

#include "train/trainer.hpp"

#include "eval/ap.hpp"
#include "eval/coco_eval.hpp"
#include "infer/augment.hpp"
#include "infer/detector.hpp"

#include "export/onnx.hpp"
#include "export/torch_pt.hpp"

#include "viz/draw.hpp"
#include "viz/grid.hpp"
#include "viz/plot.hpp"
#include "dist/comm.hpp"
#else  // YOLITE_SEPARATE_IMPL: the API's declarations; its bodies are in the implementation file
#include "core/detection.hpp"
#include "core/error.hpp"
#include "core/image.hpp"
#include "data/image_file.hpp"
#include "infer/detector.hpp"
#include "train/trainer.hpp"
#include "viz/draw.hpp"
#endif
