// data/image_file.hpp -- reading and writing image files: the declarations.
//
//   Image img = data::load_image("photo.jpg");   // RGB; channels 1 = gray, 4 = RGBA, 0 = as stored
//   data::save_image("out.png", img);            // .jpg/.jpeg (quality 95), .png or .bmp
//
// The bodies are in data/image_io.hpp (with decoding from memory, resizing and the rest);
// this header is what a program that only reads and writes photos needs (core/api.hpp).
#pragma once
#include <filesystem>

#include "../core/api.hpp"
#include "../core/image.hpp"

namespace yolite::data {

// Decodes an image file. channels: 3 = RGB (default), 1 = gray, 4 = RGBA, 0 = as stored.
// Errors name the file ("not found", the decoder's reason for a corrupt file, ...).
YOLITE_API Image load_image(const std::filesystem::path& path, int channels = 3);

// Encodes `img` in the format its extension names (.jpg/.jpeg, .png, .bmp) and writes it
// through a temporary file. jpeg_quality is 1..100 (ignored for PNG/BMP).
YOLITE_API void save_image(const std::filesystem::path& path, const Image& img, int jpeg_quality = 95);

}  // namespace yolite::data
