// examples/video/detect_video.cpp -- the streaming API: frames from a video file, a camera or a
// network stream, a Detector on each, an annotated video out (built when FFmpeg's libraries
// are found; CMake target yolite::video).
//
//   example_detect_video best.pt clip.mp4 annotated.mp4        # or 0, /dev/video0, rtsp://...
#include <cstdio>

#include <yolite/infer/detector.hpp>
#include <yolite/io/video.hpp>
#include <yolite/viz/colors.hpp>
#include <yolite/viz/draw.hpp>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s WEIGHTS SOURCE OUT.mp4\n", argv[0]);
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);  // FFmpeg's banners and statistics off; errors still shown
  try {
    yolite::Detector det(argv[1]);
    yolite::VideoSource src(argv[2]);
    const yolite::VideoInfo& vi = src.info();
    yolite::VideoWriter out(argv[3], vi.width, vi.height, vi.fps_num, vi.fps_den);
    yolite::Image frame;
    while (src.read(frame)) {
      const auto dets = det.detect(frame);
      for (const auto& d : dets)
        yolite::viz::draw_box_label(frame, d.x1, d.y1, d.x2, d.y2, det.name(d.cls), yolite::viz::class_color(d.cls), 2);
      out.write(frame);
      std::printf("frame %lld: %zu objects\n", static_cast<long long>(src.frame_index()), dets.size());
    }
    out.finish();
    std::printf("%s: %lld frames at %.3g frames/s\n", argv[3], static_cast<long long>(out.frames()), vi.fps);
  } catch (const yolite::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
