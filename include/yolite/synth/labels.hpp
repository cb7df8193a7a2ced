// synth/labels.hpp -- label artwork with text: brand names, small print, stripes and logos,
// rendered with a TrueType font (stb_truetype) into a texture that wraps round the bottle.
//
// Real bottles carry printed labels -- words in several sizes, a logo, thin stripes -- not the
// plain colour bands of the built-in meshes. A detector that only saw plain bands boxes the
// band; with text on it, it learns that the label is part of the bottle. Words are random
// (syllables, so no language is favoured), as are fonts, sizes, colours and layout.
//
//   auto fonts = synth::load_fonts("/usr/share/fonts/truetype/dejavu");   // Debian fonts-dejavu-core
//   synth::Texture t = synth::make_label_texture(rng, fonts, base_colour);
//   synth::draw_text(t, *fonts[0], "COLA", 10, 40, 32, {1, 1, 1});        // x, baseline y, pixel height
//
// Fonts are parsed by stb_truetype, which trusts the file: load fonts from system packages or
// other trusted places only. load_font() refuses files that are not TrueType/OpenType by their
// header, naming the file.
#pragma once
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <stb_truetype.h>

#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "../io/file.hpp"
#include "bottles.hpp"
#include "mesh.hpp"

namespace yolite::synth {

// One parsed font file. Not copyable: stb's font info points into `bytes`.
class Font {
 public:
  explicit Font(std::filesystem::path path) : path_(std::move(path)) {
    std::string data = io::read_file_bytes(path_.string());
    YOLITE_CHECK(data.size() >= 12, path_.string(), ": not a font (", data.size(), " bytes)");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    const bool sfnt = (p[0] == 0 && p[1] == 1 && p[2] == 0 && p[3] == 0) || std::memcmp(p, "true", 4) == 0 ||
                      std::memcmp(p, "OTTO", 4) == 0 || std::memcmp(p, "ttcf", 4) == 0;
    YOLITE_CHECK(sfnt, path_.string(), ": not a TrueType or OpenType font (bad header)");
    bytes_.assign(data.begin(), data.end());
    const int offset = stbtt_GetFontOffsetForIndex(bytes_.data(), 0);
    YOLITE_CHECK(offset >= 0 && stbtt_InitFont(&info_, bytes_.data(), offset) != 0, path_.string(),
                 ": the font's tables could not be read");
  }
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;
  const stbtt_fontinfo& info() const { return info_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<unsigned char> bytes_;
  stbtt_fontinfo info_{};
};

// Every .ttf/.otf file in `dir` (sorted by name, so the choice is the same on every machine).
inline std::vector<std::shared_ptr<const Font>> load_fonts(const std::filesystem::path& dir) {
  std::error_code ec;
  YOLITE_CHECK(std::filesystem::is_directory(dir, ec), dir.string(), ": font folder not found");
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (e.is_regular_file() && (ext == ".ttf" || ext == ".otf")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::shared_ptr<const Font>> out;
  for (auto& f : files) out.push_back(std::make_shared<const Font>(f));
  YOLITE_CHECK(!out.empty(), dir.string(), ": no .ttf or .otf font in this folder");
  return out;
}

// The first of the usual Debian font folders that exists (fonts-dejavu-core), or "" if none.
inline std::filesystem::path default_font_dir() {
  for (const char* d : {"/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation",
                        "/usr/share/fonts/truetype/freefont", "/usr/share/fonts/truetype"}) {
    std::error_code ec;
    if (std::filesystem::is_directory(d, ec)) return d;
  }
  return {};
}

// Draws ASCII `text` into the texture (rows top to bottom as an image), left edge x, baseline y,
// `px` pixels from ascender to descender, blended by glyph coverage. Returns the advance width.
// Glyphs that leave the texture are cut in v and wrap around in u (a label is a loop).
inline float draw_text(Texture& t, const Font& font, const std::string& text, float x, float y, float px, Vec3 color) {
  const stbtt_fontinfo& info = font.info();
  const float scale = stbtt_ScaleForPixelHeight(&info, px);
  float pen = x;
  for (size_t i = 0; i < text.size(); ++i) {
    const int cp = static_cast<unsigned char>(text[i]);
    int adv = 0, lsb = 0;
    stbtt_GetCodepointHMetrics(&info, cp, &adv, &lsb);
    int gw = 0, gh = 0, xo = 0, yo = 0;
    unsigned char* g = stbtt_GetCodepointBitmap(&info, 0, scale, cp, &gw, &gh, &xo, &yo);
    if (g) {
      const int ox = int(std::lround(pen)) + xo, oy = int(std::lround(y)) + yo;
      for (int r = 0; r < gh; ++r) {
        const int ty = oy + r;
        if (ty < 0 || ty >= t.h) continue;
        for (int c = 0; c < gw; ++c) {
          const float a = float(g[r * gw + c]) * (1.0f / 255.0f);
          if (a <= 0) continue;
          const int tx = ((ox + c) % t.w + t.w) % t.w;
          float* p = &t.rgb[(size_t(ty) * size_t(t.w) + size_t(tx)) * 3];
          for (int ch = 0; ch < 3; ++ch) p[ch] += (color[ch] - p[ch]) * a;
        }
      }
      stbtt_FreeBitmap(g, nullptr);
    }
    pen += float(adv) * scale;
    if (i + 1 < text.size())
      pen += float(stbtt_GetCodepointKernAdvance(&info, cp, static_cast<unsigned char>(text[i + 1]))) * scale;
  }
  return pen - x;
}

// A random pronounceable word of 1..syllables syllables.
inline std::string random_word(Rng& rng, int syllables = 3) {
  static constexpr const char* kOnset[] = {"b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
                                           "br", "cl", "fr", "st", "tr", "sp", "qu", "ch", "sh", ""};
  static constexpr const char* kVowel[] = {"a", "e", "i", "o", "u", "y", "ai", "ea", "io", "ou", "oo"};
  std::string w;
  const int n = rng.randint(1, std::max(1, syllables));
  for (int k = 0; k < n; ++k) {
    w += kOnset[rng.below(uint32_t(std::size(kOnset)))];
    w += kVowel[rng.below(uint32_t(std::size(kVowel)))];
  }
  if (rng.bernoulli(0.4)) w += kOnset[rng.below(uint32_t(std::size(kOnset) - 1))];
  return w;
}

// Label artwork: a ground colour, stripes, a logo and text in random fonts, sizes and colours.
// `ground` is the label's own colour (the band it replaces); w x h pixels, wrapping in u.
inline Texture make_label_texture(Rng& rng, const std::vector<std::shared_ptr<const Font>>& fonts, Vec3 ground,
                                  int w = 384, int h = 96) {
  Texture t;
  t.w = w, t.h = h;
  t.rgb.resize(size_t(w) * size_t(h) * 3);
  const bool dark = (ground.x + ground.y + ground.z) < 1.2f;
  auto ink = [&] {  // a colour that reads on the ground
    return dark ? hsv(rng.uniformf(), float(rng.uniform(0.0, 0.5)), float(rng.uniform(0.8, 1.0)))
                : hsv(rng.uniformf(), float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.05, 0.5)));
  };
  for (size_t i = 0; i < size_t(w) * size_t(h); ++i) t.rgb[3 * i] = ground.x, t.rgb[3 * i + 1] = ground.y, t.rgb[3 * i + 2] = ground.z;
  auto fill_rect = [&](int x0, int y0, int x1, int y1, Vec3 c) {
    for (int y = std::max(0, y0); y < std::min(h, y1); ++y)
      for (int x = x0; x < x1; ++x) {
        float* p = &t.rgb[(size_t(y) * size_t(w) + size_t((x % w + w) % w)) * 3];
        p[0] = c.x, p[1] = c.y, p[2] = c.z;
      }
  };
  // stripes across the whole label
  for (int k = rng.randint(0, 3); k > 0; --k) {
    int y0 = rng.randint(0, h - 1), hh = rng.randint(1, std::max(1, h / 5));
    fill_rect(0, y0, w, y0 + hh, rng.bernoulli(0.5) ? ink() : random_color(rng));
  }
  // a logo: a disc, a diamond or a star, once or twice round the label
  const int logos = rng.randint(0, 2);
  const float lr = float(rng.uniform(0.15, 0.4)) * float(h), lx0 = float(rng.uniform(0, w)), ly = float(rng.uniform(0.3, 0.7)) * float(h);
  const int shape = rng.randint(0, 2), points = rng.randint(4, 8);
  const Vec3 logo_c = rng.bernoulli(0.5) ? ink() : random_color(rng);
  for (int l = 0; l < logos; ++l) {
    const float lx = lx0 + float(l) * float(w) * 0.5f;
    for (int y = std::max(0, int(ly - lr)); y <= std::min(h - 1, int(ly + lr)); ++y)
      for (int x = int(lx - lr); x <= int(lx + lr); ++x) {
        float dx = float(x) + 0.5f - lx, dy = float(y) + 0.5f - ly, d = std::hypot(dx, dy) / lr;
        float a = std::atan2(dy, dx);
        bool in = shape == 0 ? d < 1 : shape == 1 ? std::fabs(dx) + std::fabs(dy) < lr
                                     : d < 0.55f + 0.45f * std::cos(float(points) * a);
        if (in) fill_rect(x, y, x + 1, y + 1, logo_c);
      }
  }
  if (fonts.empty()) return t;
  // the brand: one big word, often twice round the bottle so one side always shows it
  const Font& brand_font = *fonts[rng.below(uint32_t(fonts.size()))];
  std::string brand = random_word(rng, 3);
  if (rng.bernoulli(0.5))
    for (auto& c : brand) c = char(std::toupper(static_cast<unsigned char>(c)));
  else
    brand[0] = char(std::toupper(static_cast<unsigned char>(brand[0])));
  const float big = float(rng.uniform(0.35, 0.75)) * float(h);
  const Vec3 brand_c = ink();
  const float bx = float(rng.uniform(0, w)), by = float(rng.uniform(0.55, 0.9)) * float(h);
  const int copies = rng.bernoulli(0.6) ? 2 : 1;
  for (int k = 0; k < copies; ++k) draw_text(t, brand_font, brand, bx + float(k) * float(w) / float(copies), by, big, brand_c);
  // small print: lines of short words
  const int lines = rng.randint(0, 4);
  const Font& small_font = *fonts[rng.below(uint32_t(fonts.size()))];
  const Vec3 small_c = ink();
  for (int l = 0; l < lines; ++l) {
    const float px = float(rng.uniform(0.08, 0.18)) * float(h);
    float x = float(rng.uniform(0, w)), y = float(rng.uniform(0.1, 1.0)) * float(h);
    const float end = x + float(rng.uniform(0.2, 0.6)) * float(w);
    while (x < end) x += draw_text(t, small_font, random_word(rng, 2), x, y, px, small_c) + px * 0.4f;
  }
  // the texture's row 0 is v = 0 (the label's bottom edge on a bottle): flip the image rows
  for (int y = 0; y < h / 2; ++y)
    std::swap_ranges(t.rgb.begin() + ptrdiff_t(size_t(y) * size_t(w) * 3), t.rgb.begin() + ptrdiff_t(size_t(y + 1) * size_t(w) * 3),
                     t.rgb.begin() + ptrdiff_t(size_t(h - 1 - y) * size_t(w) * 3));
  return t;
}

// Gives every material named "label" or "neck label" of `m` a fresh printed texture over the
// height its triangles span (the lathe's v = profile height). Needs texture coordinates.
inline void print_labels(Mesh& m, Rng& rng, const std::vector<std::shared_ptr<const Font>>& fonts) {
  if (m.uv.size() != m.pos.size()) return;
  for (size_t k = 0; k < m.materials.size(); ++k) {
    Material& mat = m.materials[k];
    if (mat.name != "label" && mat.name != "neck label") continue;
    float v0 = 1e30f, v1 = -1e30f;
    for (size_t t = 0; t < m.tris.size(); ++t)
      if (m.tri_material[t] == k)
        for (uint32_t v : m.tris[t]) v0 = std::min(v0, m.uv[v][1]), v1 = std::max(v1, m.uv[v][1]);
    if (!(v1 > v0)) continue;
    mat.texture = std::make_shared<const Texture>(make_label_texture(rng, fonts, mat.color));
    mat.color = {1, 1, 1};
    mat.tex_v0 = v0, mat.tex_v1 = v1;
  }
}

// Bottles without their labels, as many found in the field are: half of the calls take every
// "label" and "neck label" triangle off (it shows the bottle's body material, clear plastic on
// the PET bottles), the other half leave a torn strip of the label, 15-60% of the way round.
// Works on meshes whose axis is y (bottles.hpp); the label's triangles are chosen by the angle
// of their centre about the axis.
inline void tear_labels(Mesh& m, Rng& rng) {
  const bool whole = rng.bernoulli(0.5);
  const float keep_from = float(rng.uniform(0, 2 * std::numbers::pi));
  const float keep_span = float(rng.uniform(0.15, 0.6)) * 2.0f * std::numbers::pi_v<float>;
  for (size_t t = 0; t < m.tris.size(); ++t) {
    const std::string& name = m.materials[m.tri_material[t]].name;
    if (name != "label" && name != "neck label") continue;
    if (!whole) {
      const auto& tri = m.tris[t];
      const Vec3 c = (m.pos[tri[0]] + m.pos[tri[1]] + m.pos[tri[2]]) * (1.0f / 3.0f);
      float a = std::atan2(c.x, c.z) - keep_from;
      a -= 2.0f * std::numbers::pi_v<float> * std::floor(a / (2.0f * std::numbers::pi_v<float>));
      if (a < keep_span) continue;
    }
    m.tri_material[t] = 0;  // the body's material (every built-in bottle's first)
  }
}

}  // namespace yolite::synth
