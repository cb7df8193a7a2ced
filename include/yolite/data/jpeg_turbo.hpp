// data/jpeg_turbo.hpp -- JPEG decoding through libjpeg-turbo, so yolite sees the pixels YOLOv5 sees.
//
// YOLOv5 reads images with OpenCV, which decodes JPEG with libjpeg-turbo: the accurate integer
// IDCT (JDCT_ISLOW) and "fancy" (triangular) chroma upsampling. stb_image's decoder is a
// different one: on typical 4:2:0 photos ~5% of its pixel values differ from OpenCV's by 1-3
// levels, which moves a validation mAP by up to ~0.003. Where libjpeg is available (Debian
// libjpeg62-turbo-dev; CMake finds it and defines YOLITE_HAVE_LIBJPEG on yolite::yolite), every
// JPEG goes through this decoder with OpenCV's settings, so training and validation see the
// same pixels as YOLOv5 would; PNG and BMP stay with stb, and so does everything when libjpeg
// is absent (the header-only use needs nothing more than before).
//
// The libjpeg error handler longjmps back into decode_jpeg_turbo; nothing between the setjmp and
// the libjpeg calls owns memory, so no C++ destructor is skipped.
#pragma once
#if defined(YOLITE_HAVE_LIBJPEG)
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

namespace yolite::data::detail {

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

inline void jpeg_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
// Warnings: a file that ends early is an error here (libjpeg would pad it with grey, and a
// truncated training image is a damaged data set, not a picture); the others (extraneous bytes
// before a marker, ...) are ignored as OpenCV ignores them.
inline void jpeg_warning(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(cinfo);
}

// What decode_jpeg_turbo reports: 0 = decoded, 1 = libjpeg error (message), 2 = too many pixels,
// 3 = a colour space this path does not convert (CMYK/YCCK: the caller falls back to stb).
struct JpegResult {
  int status = 0;
  int w = 0, h = 0, c = 0;  // c = components as stored (1 or 3)
  std::string message;
};

// Decodes JPEG bytes into `out` (interleaved, `channels` per pixel: 1 gray, 3 RGB, 4 RGBA,
// 0 = as stored). `out` is resized here; the caller owns it.
inline JpegResult decode_jpeg_turbo(const uint8_t* bytes, size_t n, int channels, int64_t max_pixels,
                                    std::vector<uint8_t>& out) {
  JpegResult r;
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_warning;
  err.message[0] = 0;
  // volatile: read after a longjmp
  volatile int stage = 0;
  uint8_t* volatile rgba_row = nullptr;
  if (setjmp(err.jump)) {
    r.status = 1;
    r.message = err.message;
    if (stage > 0) jpeg_destroy_decompress(&cinfo);
    std::free(rgba_row);
    return r;
  }
  jpeg_create_decompress(&cinfo);
  stage = 1;
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(n));
  jpeg_read_header(&cinfo, TRUE);
  r.w = int(cinfo.image_width), r.h = int(cinfo.image_height);
  r.c = cinfo.num_components == 1 ? 1 : 3;
  if (r.w <= 0 || r.h <= 0 || int64_t(r.w) * int64_t(r.h) > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    r.status = 2;
    return r;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    r.status = 3;
    return r;
  }
  const int want = channels ? channels : r.c;
  // OpenCV's settings (and libjpeg's defaults): accurate integer IDCT, fancy upsampling
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  cinfo.out_color_space = want == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int oc = cinfo.output_components;  // 1 or 3
  try {
    out.resize(size_t(r.w) * size_t(r.h) * size_t(want));  // bounded by max_pixels above
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  if (want == 4) {
    rgba_row = static_cast<uint8_t*>(std::malloc(size_t(r.w) * 3));
    if (!rgba_row) {
      jpeg_destroy_decompress(&cinfo);
      throw std::bad_alloc();
    }
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* dst = out.data() + size_t(cinfo.output_scanline) * size_t(r.w) * size_t(want);
    if (want == oc) {
      JSAMPROW row = dst;
      jpeg_read_scanlines(&cinfo, &row, 1);
    } else {  // RGB -> RGBA (gray output is only asked for as 1 channel)
      JSAMPROW row = rgba_row;
      jpeg_read_scanlines(&cinfo, &row, 1);
      for (int x = 0; x < r.w; ++x) {
        std::memcpy(dst + 4 * size_t(x), rgba_row + 3 * size_t(x), 3);
        dst[4 * size_t(x) + 3] = 255;
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  std::free(rgba_row);
  return r;
}

}  // namespace yolite::data::detail
#endif  // YOLITE_HAVE_LIBJPEG
