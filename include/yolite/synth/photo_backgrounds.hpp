// synth/photo_backgrounds.hpp -- the user's photos as backgrounds behind rendered objects.
//
// Cut-and-paste data generators put rendered objects over real photographs: the detector then
// learns to tell the objects from real clutter, light and texture instead of from the clean
// procedural backgrounds alone. Any folder of photos will do -- pictures of the place where the
// detector will run are best -- as long as they do not show the objects to detect (an
// unlabelled bottle in the background teaches the detector that bottles are background).
//
//   synth::PhotoFolder bg = synth::scan_photo_folder("my_photos", [](const std::string& m) { std::puts(m.c_str()); });
//   synth::SynthOptions o;  o.scene.photos = bg.files;  o.scene.photo_probability = 0.8f;
//
// scan_photo_folder walks the folder (sorted, so the same folder gives the same data set),
// decodes every file once to check it, and skips what is not a usable image with a message
// naming it (not an image, corrupt, too small); a folder with no usable photo is an error
// naming it. Each background is a random crop of one photo (35-100% of the largest crop with
// the target's aspect ratio), randomly mirrored, resampled bilinearly to the image size.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../core/rng.hpp"
#include "../data/image_io.hpp"

namespace yolite::synth {

struct PhotoFolder {
  std::vector<std::filesystem::path> files;  // usable photos, in path order
  std::vector<std::string> skipped;          // "path: reason", one per file left out
};

inline constexpr int kMinPhotoSide = 32;

// Finds the usable photos under `dir` (recursively). `note` receives one line per skipped file.
inline PhotoFolder scan_photo_folder(const std::filesystem::path& dir,
                                     const std::function<void(const std::string&)>& note = {}) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir.string(), ": backgrounds folder not found");
  if (!fs::is_directory(dir, ec)) fail(dir.string(), ": --backgrounds must be a folder of photos");
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec)) all.push_back(it->path());
  if (ec) fail(dir.string(), ": cannot list the folder (", ec.message(), ")");
  std::sort(all.begin(), all.end());
  PhotoFolder out;
  auto skip = [&](const fs::path& p, const std::string& why) {
    out.skipped.push_back(p.string() + ": " + why);
    if (note) note("backgrounds: skipping " + out.skipped.back());
  };
  for (const auto& p : all) {
    std::string ext = p.extension().string();
    for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".bmp") {
      skip(p, "not an image (expected .jpg, .jpeg, .png or .bmp)");
      continue;
    }
    try {
      Image img = data::load_image(p, 3);
      if (img.w < kMinPhotoSide || img.h < kMinPhotoSide) {
        skip(p, str("too small (", img.w, "x", img.h, "; at least ", kMinPhotoSide, "x", kMinPhotoSide, ")"));
        continue;
      }
    } catch (const Error& e) {
      std::string why = e.what();
      const std::string prefix = p.string() + ": ";
      if (why.rfind(prefix, 0) == 0) why = why.substr(prefix.size());
      skip(p, why);
      continue;
    }
    out.files.push_back(p);
  }
  if (out.files.empty())
    fail(dir.string(), ": no usable background photo (", all.size(), " files, ", out.skipped.size(),
         " skipped); expected JPEG, PNG or BMP images");
  return out;
}

// Paints a random crop of `photo` into rgb (w*h*3, colours in [0, 1]).
inline void paint_photo(std::vector<float>& rgb, int w, int h, const Image& photo, Rng& rng) {
  YOLITE_CHECK(photo.w >= 1 && photo.h >= 1 && photo.c == 3, "synth::paint_photo: need an RGB photo");
  rgb.assign(size_t(w) * size_t(h) * 3, 0.f);
  const double aspect = double(w) / double(h);
  // the largest crop with the target's aspect ratio, then 35-100% of it
  double cw = std::min(double(photo.w), double(photo.h) * aspect), ch = cw / aspect;
  const double s = rng.uniform(0.35, 1.0);
  cw *= s, ch *= s;
  const double x0 = rng.uniform(0.0, double(photo.w) - cw), y0 = rng.uniform(0.0, double(photo.h) - ch);
  const bool mirror = rng.bernoulli(0.5);
  const double sx = cw / double(w), sy = ch / double(h);
  for (int y = 0; y < h; ++y) {
    const double fy = std::clamp(y0 + (double(y) + 0.5) * sy - 0.5, 0.0, double(photo.h - 1));
    const int iy = std::min(int(fy), photo.h - 2 < 0 ? 0 : photo.h - 2);
    const float ay = float(fy - double(iy));
    const int iy1 = std::min(iy + 1, photo.h - 1);
    for (int x = 0; x < w; ++x) {
      const int xx = mirror ? w - 1 - x : x;
      const double fx = std::clamp(x0 + (double(xx) + 0.5) * sx - 0.5, 0.0, double(photo.w - 1));
      const int ix = std::min(int(fx), photo.w - 2 < 0 ? 0 : photo.w - 2);
      const float ax = float(fx - double(ix));
      const int ix1 = std::min(ix + 1, photo.w - 1);
      const uint8_t* p00 = photo.at(ix, iy);
      const uint8_t* p01 = photo.at(ix1, iy);
      const uint8_t* p10 = photo.at(ix, iy1);
      const uint8_t* p11 = photo.at(ix1, iy1);
      float* out = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      for (int c = 0; c < 3; ++c) {
        const float top = float(p00[c]) + (float(p01[c]) - float(p00[c])) * ax;
        const float bot = float(p10[c]) + (float(p11[c]) - float(p10[c])) * ax;
        out[c] = (top + (bot - top) * ay) * (1.0f / 255.0f);
      }
    }
  }
}

}  // namespace yolite::synth
