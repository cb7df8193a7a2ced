// synth/obj_loader.hpp -- a small Wavefront OBJ + MTL reader for user models.
//
// Why our own and not tinyobjloader (which Debian ships): yolite is header-only, and
// tinyobjloader's implementation must be compiled in exactly one translation unit (or linked
// from its shared library), which a header-only library cannot promise its users. The part of
// OBJ a renderer of solid objects needs is small, so it is read here:
//   v x y z [w]         positions              vn x y z        normals
//   vt u [v]            texture coordinates (v = 0 is the image's bottom row)
//   f a b c [d ...]     polygons (fan-triangulated), corners as v, v/vt, v//vn or v/vt/vn,
//                       1-based or negative (relative) indices
//   usemtl NAME         material of the faces that follow
//   s N | off           smoothing group of the faces that follow (for faces without vn:
//                       "off"/0, the default, shades each face flat; faces of one group
//                       share averaged normals at their common vertices)
//   mtllib FILE.mtl     materials: newmtl, Kd r g b (colour), d a / Tr t (opacity),
//                       Ks r g b (specular strength = mean), Ns n (shininess),
//                       map_Kd [options] FILE (a colour texture, relative to the MTL file;
//                       the albedo is Kd times the texture)
// Everything else (o, g, l, p, other maps, ...) is skipped. Faces without vn get area-weighted
// normals (flat, or smooth within their smoothing group). Errors name the file and line.
//
//   synth::Mesh m = synth::load_obj("models/green.obj");   // materials from its mtllib
//   synth::normalize_mesh(m);                              // centre it, largest side 1
#pragma once
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../data/fs.hpp"
#include "../data/image_io.hpp"
#include "mesh.hpp"

namespace yolite::synth {

namespace detail {

inline std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

inline float parse_float(std::string_view s, const std::string& where) {
  float v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
    fail(where, ": expected a number, got '", s, "'");
  return v;
}

inline long parse_int(std::string_view s, const std::string& where) {
  long v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(where, ": expected an index, got '", s, "'");
  return v;
}

// Calls f(line_number, tokens) for every non-empty, non-comment line.
template <class F>
void for_each_line(const std::string& text, F&& f) {
  size_t pos = 0;
  int line = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view l(text.data() + pos, end - pos);
    size_t hash = l.find('#');
    if (hash != std::string_view::npos) l = l.substr(0, hash);
    auto tok = split_ws(l);
    if (!tok.empty()) f(line, tok);
    pos = end + 1;
  }
}

}  // namespace detail

// Reads the materials of an MTL file.
inline std::vector<Material> load_mtl(const std::filesystem::path& path) {
  std::string text = data::read_file(path);
  std::vector<Material> mats;
  detail::for_each_line(text, [&](int line, const std::vector<std::string_view>& t) {
    std::string where = str(path.string(), ":", line);
    auto need = [&](size_t n) {
      if (t.size() < n + 1) fail(where, ": '", t[0], "' needs ", n, " value(s)");
      if (mats.empty()) fail(where, ": '", t[0], "' before any 'newmtl'");
    };
    if (t[0] == "newmtl") {
      if (t.size() < 2) fail(where, ": 'newmtl' needs a name");
      Material m;
      m.name = std::string(t[1]);
      mats.push_back(m);
    } else if (t[0] == "Kd") {
      need(3);
      mats.back().color = {detail::parse_float(t[1], where), detail::parse_float(t[2], where),
                           detail::parse_float(t[3], where)};
    } else if (t[0] == "d") {
      need(1);
      mats.back().opacity = std::clamp(detail::parse_float(t[1], where), 0.0f, 1.0f);
    } else if (t[0] == "Tr") {
      need(1);
      mats.back().opacity = std::clamp(1.0f - detail::parse_float(t[1], where), 0.0f, 1.0f);
    } else if (t[0] == "Ks") {
      need(3);
      mats.back().specular = (detail::parse_float(t[1], where) + detail::parse_float(t[2], where) +
                              detail::parse_float(t[3], where)) / 3.0f;
    } else if (t[0] == "Ns") {
      need(1);
      mats.back().shininess = std::max(1.0f, detail::parse_float(t[1], where));
    } else if (t[0] == "map_Kd") {
      need(1);  // options such as -s or -o come before the file name, which is last
      const std::filesystem::path file = path.parent_path() / std::string(t.back());
      Image img;
      try {
        img = data::load_image(file, 3);
      } catch (const Error& e) {
        fail(where, ": map_Kd: ", e.what());
      }
      auto tex = std::make_shared<Texture>();
      tex->w = img.w, tex->h = img.h;
      tex->rgb.resize(size_t(img.w) * size_t(img.h) * 3);
      for (int y = 0; y < img.h; ++y)  // texture row 0 is v = 0, the image's bottom row
        for (int x = 0; x < img.w; ++x)
          for (int c = 0; c < 3; ++c)
            tex->rgb[(size_t(img.h - 1 - y) * size_t(img.w) + size_t(x)) * 3 + size_t(c)] =
                float(img.at(x, y)[c]) * (1.0f / 255.0f);
      mats.back().texture = std::move(tex);
    }
  });
  return mats;
}

// Reads an OBJ file (and the MTL files it names, relative to its folder) into a Mesh.
inline Mesh load_obj(const std::filesystem::path& path) {
  std::string text = data::read_file(path);
  std::vector<Vec3> vs, ns;
  std::vector<std::array<float, 2>> vts;
  bool textured = false;  // any corner with a vt index
  Mesh m;
  std::map<std::string, uint16_t> mat_index;
  std::vector<Material> library;
  uint16_t current = 0;
  bool have_default = false;
  auto use_material = [&](const std::string& name) -> uint16_t {
    auto it = mat_index.find(name);
    if (it != mat_index.end()) return it->second;
    Material mat;
    mat.name = name;
    for (auto& lm : library)
      if (lm.name == name) mat = lm;
    YOLITE_CHECK(m.materials.size() < 65535, path.string(), ": too many materials");
    m.materials.push_back(mat);
    return mat_index[name] = uint16_t(m.materials.size() - 1);
  };
  std::map<std::array<long, 3>, uint32_t> vertex_of;  // (position, normal or -2 - group, vt) -> vertex
  long smooth = 0;                                       // current smoothing group, 0 = off
  std::vector<bool> needs_normal;
  detail::for_each_line(text, [&](int line, const std::vector<std::string_view>& t) {
    std::string where = str(path.string(), ":", line);
    if (t[0] == "v") {
      if (t.size() < 4) fail(where, ": 'v' needs x y z");
      vs.push_back({detail::parse_float(t[1], where), detail::parse_float(t[2], where), detail::parse_float(t[3], where)});
    } else if (t[0] == "vn") {
      if (t.size() < 4) fail(where, ": 'vn' needs x y z");
      ns.push_back(normalize(
          {detail::parse_float(t[1], where), detail::parse_float(t[2], where), detail::parse_float(t[3], where)}));
    } else if (t[0] == "vt") {
      if (t.size() < 2) fail(where, ": 'vt' needs u [v]");
      vts.push_back({detail::parse_float(t[1], where), t.size() > 2 ? detail::parse_float(t[2], where) : 0.0f});
    } else if (t[0] == "mtllib") {
      for (size_t i = 1; i < t.size(); ++i) {
        auto mats = load_mtl(path.parent_path() / std::string(t[i]));
        library.insert(library.end(), mats.begin(), mats.end());
      }
    } else if (t[0] == "s") {
      if (t.size() < 2) fail(where, ": 's' needs a group number or 'off'");
      smooth = (t[1] == "off" || t[1] == "0") ? 0 : std::max(1L, detail::parse_int(t[1], where));
    } else if (t[0] == "usemtl") {
      if (t.size() < 2) fail(where, ": 'usemtl' needs a name");
      current = use_material(std::string(t[1]));
      have_default = true;
    } else if (t[0] == "f") {
      if (t.size() < 4) fail(where, ": a face needs at least 3 corners, got ", t.size() - 1);
      if (!have_default) current = use_material("default"), have_default = true;
      std::vector<uint32_t> corner;
      for (size_t i = 1; i < t.size(); ++i) {
        std::string_view c = t[i];
        size_t s1 = c.find('/');
        long vi = detail::parse_int(c.substr(0, s1), where), ni = 0, ti = 0;
        if (s1 != std::string_view::npos) {
          size_t s2 = c.find('/', s1 + 1);
          std::string_view tv = c.substr(s1 + 1, s2 == std::string_view::npos ? std::string_view::npos : s2 - s1 - 1);
          if (!tv.empty()) ti = detail::parse_int(tv, where);
          if (s2 != std::string_view::npos && s2 + 1 < c.size()) ni = detail::parse_int(c.substr(s2 + 1), where);
        }
        auto resolve = [&](long idx, size_t count, const char* what) -> long {
          long r = idx > 0 ? idx - 1 : long(count) + idx;
          if (idx == 0 || r < 0 || r >= long(count))
            fail(where, ": ", what, " index ", idx, " out of range (", count, " defined so far)");
          return r;
        };
        vi = resolve(vi, vs.size(), "vertex");
        long nn = ni != 0 ? resolve(ni, ns.size(), "normal") : -1;
        long tt = ti != 0 ? resolve(ti, vts.size(), "texture coordinate") : -1;
        textured = textured || tt >= 0;
        const std::array<float, 2> uv = tt >= 0 ? vts[size_t(tt)] : std::array<float, 2>{0.0f, 0.0f};
        if (nn < 0 && smooth == 0) {  // flat: a vertex of this face only
          corner.push_back(uint32_t(m.pos.size()));
          m.pos.push_back(vs[size_t(vi)]);
          m.uv.push_back(uv);
          m.normal.push_back(Vec3{0, 0, 0});
          needs_normal.push_back(true);
          continue;
        }
        const std::array<long, 3> key{vi, nn >= 0 ? nn : -2 - smooth, tt};
        auto it = vertex_of.find(key);
        if (it == vertex_of.end()) {
          it = vertex_of.emplace(key, uint32_t(m.pos.size())).first;
          m.pos.push_back(vs[size_t(vi)]);
          m.uv.push_back(uv);
          m.normal.push_back(nn >= 0 ? ns[size_t(nn)] : Vec3{0, 0, 0});
          needs_normal.push_back(nn < 0);
        }
        corner.push_back(it->second);
      }
      for (size_t i = 1; i + 1 < corner.size(); ++i) {  // fan
        m.tris.push_back({corner[0], corner[i], corner[i + 1]});
        m.tri_material.push_back(current);
      }
    }
  });
  YOLITE_CHECK(!m.tris.empty(), path.string(), ": no faces (expected 'f' lines)");
  if (!textured) m.uv.clear();
  // Normals where the file gave none (summed over the faces sharing the vertex).
  for (auto& tr : m.tris) {
    Vec3 n = cross(m.pos[tr[1]] - m.pos[tr[0]], m.pos[tr[2]] - m.pos[tr[0]]);
    for (uint32_t v : tr)
      if (needs_normal[v]) m.normal[v] += n;
  }
  for (size_t v = 0; v < m.normal.size(); ++v)
    if (needs_normal[v]) m.normal[v] = normalize(m.normal[v]);
  return m;
}

}  // namespace yolite::synth
