// data/image_io.hpp -- read, write and resize images (JPEG / PNG / BMP through stb).
//
//   Image img = data::load_image("images/a.jpg");        // RGB, 3 channels (channels=0: as stored)
//   Image im2 = data::decode_image(bytes, "upload.jpg");  // the same from encoded bytes in memory
//   auto [w, h, c] = data::image_size("images/a.jpg");   // header only, no decoding
//   Image small = data::resize(img, 320, 240);           // area when shrinking, else bilinear
//   data::save_image("out/a.png", small);                // format from the extension
//
// Decoding and encoding are stb_image / stb_image_write (their implementations are compiled
// into libstb, which yolite::yolite links; do not define STB_*_IMPLEMENTATION), except that
// JPEGs are decoded by libjpeg-turbo with OpenCV's settings where it is available (see
// data/jpeg_turbo.hpp: YOLOv5 sees the same pixels). Errors name the
// file and say what went wrong ("not found", stb's reason for a corrupt file, ...). Files are
// written to a temporary name and renamed, so a crash never leaves half an image.
//
// resize() is our own separable filter, the same two kernels YOLOv5 asks OpenCV for:
//   linear -- bilinear with pixel centres at +0.5 (cv2.INTER_LINEAR),
//   area   -- each output pixel averages the source pixels it covers, weighted by the covered
//             fraction (cv2.INTER_AREA when shrinking).
// Both are one table of (source index, weight) taps per axis: a horizontal pass then a
// vertical pass.
#pragma once
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../core/parallel.hpp"
#include "fs.hpp"
#include "image_file.hpp"
#include "jpeg_turbo.hpp"

namespace yolite::data {

// Images larger than this many pixels are refused from their header, before any pixel memory
// is allocated (2^28 = 16384 x 16384; stb itself allows 2^24 per side, i.e. terabytes).
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

// Decodes an encoded image held in memory; `source` names it in errors. The header is read
// first: a zero or oversized width/height is refused before stb allocates the pixels.
inline Image decode_image(std::string_view bytes, const std::string& source, int channels = 3,
                          int64_t max_pixels = kMaxImagePixels) {
  YOLITE_CHECK(channels >= 0 && channels <= 4, "load_image(", source, "): channels must be 0..4, got ", channels);
  if (bytes.empty()) fail(source, ": empty file, expected a JPEG/PNG/BMP image");
  if (bytes.size() > size_t(INT32_MAX)) fail(source, ": ", bytes.size(), " bytes, more than an image file may have (2 GiB)");
  const auto* p = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int n = int(bytes.size());
  int w = 0, h = 0, c = 0;
  const bool header = stbi_info_from_memory(p, n, &w, &h, &c);
  if (header && (w <= 0 || h <= 0 || int64_t(w) * int64_t(h) > max_pixels))
    fail(source, ": image header claims ", w, "x", h, " pixels; at most ", max_pixels,
         " pixels are accepted (corrupt file?)");
#if defined(YOLITE_HAVE_LIBJPEG)
  if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    Image img;
    detail::JpegResult jr = detail::decode_jpeg_turbo(p, bytes.size(), channels, max_pixels, img.px);
    if (jr.status == 0) {
      img.w = jr.w, img.h = jr.h, img.c = channels ? channels : jr.c;
      return img;
    }
    if (jr.status == 1) fail(source, ": cannot decode JPEG (", jr.message, ")");
    if (jr.status == 2)
      fail(source, ": image header claims ", jr.w, "x", jr.h, " pixels; at most ", max_pixels,
           " pixels are accepted (corrupt file?)");
    // status 3 (CMYK / YCCK): stb below
  }
#endif
  if (!header) {
    const char* why = stbi_failure_reason();
    fail(source, ": cannot decode image (", why ? why : "unknown reason", "); expected JPEG, PNG or BMP");
  }
  uint8_t* px = stbi_load_from_memory(p, n, &w, &h, &c, channels);
  if (!px) {
    const char* why = stbi_failure_reason();
    fail(source, ": cannot decode image (", why ? why : "unknown reason", "); expected JPEG, PNG or BMP");
  }
  int cc = channels ? channels : c;
  Image img;
  img.w = w;
  img.h = h;
  img.c = cc;
  img.px.assign(px, px + size_t(w) * size_t(h) * size_t(cc));
  stbi_image_free(px);
  return img;
}

#if YOLITE_API_BODIES
YOLITE_API Image load_image(const std::filesystem::path& path, int channels) {
  YOLITE_CHECK(channels >= 0 && channels <= 4, "load_image(", path.string(), "): channels must be 0..4, got ",
               channels);
  std::string bytes = read_file(path);  // names the file when missing
  return decode_image(bytes, path.string(), channels);
}
#endif

struct ImageSize {
  int w = 0, h = 0, c = 0;  // c = channels as stored in the file
};

// Width, height and channel count from the file header, without decoding the pixels.
inline ImageSize image_size(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path.string(), ": image file not found");
  ImageSize s;
  if (!stbi_info(path.string().c_str(), &s.w, &s.h, &s.c)) {
    const char* why = stbi_failure_reason();
    fail(path.string(), ": cannot read image header (", why ? why : "unknown reason", "); expected JPEG, PNG or BMP");
  }
  return s;
}

namespace detail {
inline void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::string*>(ctx);
  out->append(static_cast<const char*>(data), size_t(size));
}
inline std::string lower_ext(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  for (auto& ch : e) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return e;
}
}  // namespace detail

#if YOLITE_API_BODIES
YOLITE_API void save_image(const std::filesystem::path& path, const Image& img, int jpeg_quality) {
  if (img.w <= 0 || img.h <= 0 || img.c < 1 || img.c > 4 || img.px.size() != size_t(img.w) * img.h * img.c)
    fail(path.string(), ": cannot save an empty or inconsistent image (", img.w, "x", img.h, "x", img.c, ")");
  YOLITE_CHECK(jpeg_quality >= 1 && jpeg_quality <= 100, path.string(), ": jpeg quality must be 1..100, got ",
               jpeg_quality);
  std::string ext = detail::lower_ext(path), bytes;
  int ok = 0;
  if (ext == ".jpg" || ext == ".jpeg")
    ok = stbi_write_jpg_to_func(detail::append_bytes, &bytes, img.w, img.h, img.c, img.px.data(), jpeg_quality);
  else if (ext == ".png")
    ok = stbi_write_png_to_func(detail::append_bytes, &bytes, img.w, img.h, img.c, img.px.data(), img.w * img.c);
  else if (ext == ".bmp")
    ok = stbi_write_bmp_to_func(detail::append_bytes, &bytes, img.w, img.h, img.c, img.px.data());
  else
    fail(path.string(), ": unknown image extension '", ext, "', expected .jpg, .jpeg, .png or .bmp");
  if (!ok || bytes.empty()) fail(path.string(), ": image encoding failed");
  write_file_atomic(path, bytes);
}
#endif

// The image file extensions yolite recognises (lower case, with the dot), as YOLOv5's IMG_FORMATS
// restricted to what stb decodes.
inline bool is_image_file(const std::filesystem::path& p) {
  std::string e = detail::lower_ext(p);
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp";
}

// True when `source` names a video rather than an image (io/video.hpp reads them): a camera
// ("0", "/dev/video0"), a network stream (rtsp://, rtmp://, http(s)://, udp://, tcp://) or a
// file with a video extension.
inline bool is_video_source(const std::string& source) {
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 3 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (digits(source) || source.rfind("/dev/video", 0) == 0) return true;
  for (const char* p : {"rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://"})
    if (source.rfind(p, 0) == 0) return true;
  std::string ext = std::filesystem::path(source).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (const char* e : {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".asf", ".gif"})
    if (ext == e) return true;
  return false;
}

enum class Interp {
  automatic,  // area when the image shrinks on both axes, else linear (what YOLOv5 does)
  linear,     // bilinear
  area        // box filter over the covered source pixels
};

namespace detail {
// For one axis: for every output index, the source indices and weights that make it.
struct Taps {
  std::vector<int> first, count;  // per output index: into idx / wt
  std::vector<int> idx;
  std::vector<float> wt;
};

inline Taps linear_taps(int src, int dst) {
  Taps t;
  double scale = double(src) / dst;
  for (int o = 0; o < dst; ++o) {
    double x = (o + 0.5) * scale - 0.5;  // source coordinate of the output pixel centre
    int x0 = int(std::floor(x));
    float f = float(x - x0);
    int a = std::clamp(x0, 0, src - 1), b = std::clamp(x0 + 1, 0, src - 1);
    t.first.push_back(int(t.idx.size()));
    t.count.push_back(2);
    t.idx.push_back(a);
    t.wt.push_back(1.f - f);
    t.idx.push_back(b);
    t.wt.push_back(f);
  }
  return t;
}

inline Taps area_taps(int src, int dst) {
  Taps t;
  double scale = double(src) / dst;  // source pixels per output pixel
  for (int o = 0; o < dst; ++o) {
    double lo = o * scale, hi = (o + 1) * scale;
    t.first.push_back(int(t.idx.size()));
    int n = 0;
    for (int s = int(std::floor(lo)); s < int(std::ceil(hi)) && s < src; ++s) {
      double cover = std::min<double>(hi, s + 1) - std::max<double>(lo, s);
      if (cover <= 1e-12) continue;
      t.idx.push_back(s);
      t.wt.push_back(float(cover / scale));
      ++n;
    }
    t.count.push_back(n);
  }
  return t;
}
// One row of the horizontal pass: out[x*c + ch] = sum over the taps k of x (in order) of
// wt[k] * src[idx[k]*c + ch]. C is the channel count when known at compile time (else 0).
template <int C>
void resize_row_h(const uint8_t* src, float* out, int w, int c_runtime, const Taps& tx) {
  const int c = C > 0 ? C : c_runtime;
  for (int x = 0; x < w; ++x) {
    const int f = tx.first[x], n = tx.count[x];
    float* o = out + size_t(x) * c;
    for (int ch = 0; ch < c; ++ch) o[ch] = 0.f;
    for (int k = 0; k < n; ++k) {
      const float wt = tx.wt[f + k];
      const uint8_t* s = src + size_t(tx.idx[f + k]) * c;
      for (int ch = 0; ch < c; ++ch) o[ch] += wt * s[ch];
    }
  }
}
}  // namespace detail

// Resizes to w x h (same channel count).
inline Image resize(const Image& img, int w, int h, Interp interp = Interp::automatic) {
  YOLITE_CHECK(w > 0 && h > 0, "resize: target size must be positive, got ", w, "x", h);
  YOLITE_CHECK(!img.empty() && img.w > 0 && img.h > 0, "resize: empty input image");
  if (w == img.w && h == img.h) return img;
  if (interp == Interp::automatic) interp = (w < img.w && h < img.h) ? Interp::area : Interp::linear;
  auto taps = [&](int s, int d) {
    return (interp == Interp::area && d < s) ? detail::area_taps(s, d) : detail::linear_taps(s, d);
  };
  const detail::Taps tx = taps(img.w, w), ty = taps(img.h, h);
  const int c = img.c;
  // Horizontal pass: img.h rows of w pixels, kept in float (RGB unrolled at compile time).
  std::vector<float> mid(size_t(img.h) * w * c);
  parallel_for(0, img.h, [&](int64_t y) {
    const uint8_t* src = img.row(int(y));
    float* out = mid.data() + size_t(y) * w * c;
    if (c == 3)
      detail::resize_row_h<3>(src, out, w, c, tx);
    else
      detail::resize_row_h<0>(src, out, w, c, tx);
  });
  // Vertical pass: a whole output row at a time, taps outer and pixels inner (a loop the
  // compiler vectorises), each pixel's sum taken in the same tap order as a per-pixel loop.
  // Rounding is std::lround's (half away from zero) without the library call: the sums are
  // >= 0 (non-negative weights and pixels), so truncate and add 1 when the fraction is >= 0.5.
  Image out(w, h, c);
  const int row_len = w * c;
  parallel_for(0, h, [&](int64_t y) {
    uint8_t* dst = out.row(int(y));
    std::vector<float> acc(static_cast<size_t>(row_len), 0.f);
    for (int k = 0; k < ty.count[y]; ++k) {
      const float wt = ty.wt[ty.first[y] + k];
      const float* m = mid.data() + size_t(ty.idx[ty.first[y] + k]) * row_len;
      for (int i = 0; i < row_len; ++i) acc[size_t(i)] += wt * m[i];
    }
    for (int i = 0; i < row_len; ++i) {
      const float a = acc[size_t(i)];
      int v = int(a);
      v += (a - float(v)) >= 0.5f ? 1 : 0;
      dst[i] = uint8_t(std::clamp(v, 0, 255));
    }
  });
  return out;
}

}  // namespace yolite::data
