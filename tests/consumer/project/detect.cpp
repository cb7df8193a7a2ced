// A user's detection program: consumer_detect WEIGHTS IMAGE OUT.png. Built header-only and in
// separate mode; both builds must print the same boxes.
#include <yolite/yolite.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  std::printf("mode: %s\n", YOLITE_API_BODIES ? "header-only" : "separate");
  try {
    yolite::Detector det(argv[1]);
    yolite::Image img = yolite::data::load_image(argv[2]);
    for (const yolite::Detection& d : det.detect(img)) {
      std::printf("%s %.4f %.2f %.2f %.2f %.2f\n", det.name(d.cls).c_str(), d.score, d.x1, d.y1, d.x2, d.y2);
      yolite::viz::draw_box_label(img, d.x1, d.y1, d.x2, d.y2, det.name(d.cls), yolite::viz::class_color(d.cls));
    }
    yolite::data::save_image(argv[3], img);
    yolite::train::TrainOptions o;  // the trainer's API is there too: a bad option is an Error
    o.epochs = 0;
    yolite::train::Trainer t(o);
    try {
      t.run();
      return 1;
    } catch (const yolite::Error& e) {
      std::printf("trainer: %s\n", e.what());
    }
  } catch (const yolite::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
