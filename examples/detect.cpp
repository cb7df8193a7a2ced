// examples/detect.cpp -- embed detection in an app: load weights, detect, print, draw.
//
//   example_detect runs/train/exp/weights/best.pt photo.jpg [out.jpg]
#include <cstdio>

#include <yolite/yolite.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s WEIGHTS IMAGE [OUT.jpg]\n", argv[0]);
    return 2;
  }
  try {
    yolite::DetectorOptions opt;
    opt.imgsz = 320;        // the training image size
    opt.conf_thres = 0.25f;
    yolite::Detector det(argv[1], opt);
    yolite::Image img = yolite::data::load_image(argv[2]);
    for (const yolite::Detection& d : det.detect(img)) {
      std::printf("%-16s %.2f  [%6.1f %6.1f %6.1f %6.1f]\n", det.name(d.cls).c_str(), d.score,
                  d.x1, d.y1, d.x2, d.y2);
      yolite::viz::draw_box_label(img, d.x1, d.y1, d.x2, d.y2, det.name(d.cls),
                                  yolite::viz::class_color(d.cls));
    }
    if (argc > 3) yolite::data::save_image(argv[3], img);
  } catch (const yolite::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
