// synth/mesh.hpp -- the 3-D pieces of the renderer: Vec3, 3x3 rotations, materials and
// triangle meshes.
//
// A Mesh is an indexed triangle list with one normal per vertex (smooth shading) and one
// material index per triangle. Meshes are built by lathe.hpp (surfaces of revolution: the
// built-in bottles) or read by obj_loader.hpp, and are placed in a scene by a rotation, a
// scale and a translation (Pose).
//
//   synth::Mesh m = synth::lathe(profile, 48);           // y is the bottle's axis, base at y = 0
//   synth::Pose p{synth::rot_y(0.3f) * synth::rot_z(1.2f), 0.5f, {0, 0, -4}};
//   synth::Bounds b = synth::bounds(m);                   // axis-aligned box of the vertices
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace yolite::synth {

struct Vec3 {
  float x = 0, y = 0, z = 0;
  Vec3() = default;
  constexpr Vec3(float a, float b, float c) : x(a), y(b), z(c) {}
  Vec3 operator+(Vec3 o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(Vec3 o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(float s) const { return {x * s, y * s, z * s}; }
  Vec3 operator*(Vec3 o) const { return {x * o.x, y * o.y, z * o.z}; }  // per component (colours)
  Vec3& operator+=(Vec3 o) { return *this = *this + o; }
  float operator[](int i) const { return i == 0 ? x : i == 1 ? y : z; }
};
inline float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline float length(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalize(Vec3 a) {
  float l = length(a);
  return l > 1e-20f ? a * (1.0f / l) : Vec3{0, 1, 0};
}
inline Vec3 lerp(Vec3 a, Vec3 b, float t) { return a + (b - a) * t; }

// Row-major 3x3 matrix: rotations.
struct Mat3 {
  std::array<float, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};
  Vec3 operator*(Vec3 v) const {
    return {m[0] * v.x + m[1] * v.y + m[2] * v.z, m[3] * v.x + m[4] * v.y + m[5] * v.z,
            m[6] * v.x + m[7] * v.y + m[8] * v.z};
  }
  Mat3 operator*(const Mat3& o) const {
    Mat3 r;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        r.m[size_t(i * 3 + j)] = m[size_t(i * 3)] * o.m[size_t(j)] + m[size_t(i * 3 + 1)] * o.m[size_t(3 + j)] +
                                 m[size_t(i * 3 + 2)] * o.m[size_t(6 + j)];
    return r;
  }
};
inline Mat3 rot_x(float a) {
  float c = std::cos(a), s = std::sin(a);
  return Mat3{{1, 0, 0, 0, c, -s, 0, s, c}};
}
inline Mat3 rot_y(float a) {
  float c = std::cos(a), s = std::sin(a);
  return Mat3{{c, 0, s, 0, 1, 0, -s, 0, c}};
}
inline Mat3 rot_z(float a) {
  float c = std::cos(a), s = std::sin(a);
  return Mat3{{c, -s, 0, s, c, 0, 0, 0, 1}};
}

// An RGB image on a surface (label artwork, an OBJ model's map_Kd), colours in [0, 1].
// sample() is bilinear, wraps around in u (a label goes round the bottle) and clamps in v.
struct Texture {
  int w = 0, h = 0;
  std::vector<float> rgb;  // w*h*3, row 0 at v = 0
  Vec3 sample(float u, float v) const {
    if (w <= 0 || h <= 0) return {1, 1, 1};
    float fx = (u - std::floor(u)) * float(w) - 0.5f, fy = std::clamp(v, 0.0f, 1.0f) * float(h) - 0.5f;
    int x0 = int(std::floor(fx)), y0 = std::clamp(int(std::floor(fy)), 0, h - 1);
    float ax = fx - float(x0), ay = std::clamp(fy - float(y0), 0.0f, 1.0f);
    int x1 = (x0 + 1 + w) % w, y1 = std::min(y0 + 1, h - 1);
    x0 = (x0 % w + w) % w;
    auto at = [&](int x, int y) {
      const float* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      return Vec3{p[0], p[1], p[2]};
    };
    return lerp(lerp(at(x0, y0), at(x1, y0), ax), lerp(at(x0, y1), at(x1, y1), ax), ay);
  }
};

// Surface appearance for Phong shading. Colours are linear RGB in [0, 1].
struct Material {
  std::string name = "default";
  Vec3 color{0.7f, 0.7f, 0.7f};  // diffuse albedo (MTL Kd)
  float opacity = 1.0f;          // 1 = opaque; < 1 blends over what is behind (MTL d)
  float specular = 0.3f;         // strength of the highlight (MTL Ks, averaged)
  float shininess = 32.0f;       // Phong exponent (MTL Ns)
  // Optional artwork (MTL map_Kd): the albedo is color * texture(u, (v - tex_v0) / (tex_v1 - tex_v0))
  // at the mesh's texture coordinates (Mesh::uv).
  std::shared_ptr<const Texture> texture;
  float tex_v0 = 0.0f, tex_v1 = 1.0f;
  // A see-through body filled with liquid bends light like a lens: what is seen through it
  // shifts 1 + lens times as far as through an empty one (Light::refraction_px). 0 = empty.
  float lens = 0.0f;
};

struct Mesh {
  std::vector<Vec3> pos, normal;                // one normal per vertex
  std::vector<std::array<float, 2>> uv;         // texture coordinates: empty, or one per vertex
  std::vector<std::array<uint32_t, 3>> tris;    // counter-clockwise seen from outside
  std::vector<uint16_t> tri_material;           // index into materials, one per triangle
  std::vector<Material> materials;
  size_t vertex_count() const { return pos.size(); }
  size_t triangle_count() const { return tris.size(); }
};

struct Bounds {
  Vec3 lo{std::numeric_limits<float>::max(), std::numeric_limits<float>::max(), std::numeric_limits<float>::max()};
  Vec3 hi{-std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
          -std::numeric_limits<float>::max()};
  Vec3 center() const { return (lo + hi) * 0.5f; }
  Vec3 size() const { return hi - lo; }
};

inline Bounds bounds(const Mesh& m) {
  Bounds b;
  for (auto& p : m.pos) {
    b.lo = {std::min(b.lo.x, p.x), std::min(b.lo.y, p.y), std::min(b.lo.z, p.z)};
    b.hi = {std::max(b.hi.x, p.x), std::max(b.hi.y, p.y), std::max(b.hi.z, p.z)};
  }
  return b;
}

// Radius of the smallest origin-centred sphere holding every vertex.
inline float radius_about_origin(const Mesh& m) {
  float r = 0;
  for (auto& p : m.pos) r = std::max(r, length(p));
  return r;
}

// Area-weighted vertex normals from the triangles (for meshes that come without normals).
inline void compute_normals(Mesh& m) {
  m.normal.assign(m.pos.size(), Vec3{0, 0, 0});
  for (auto& t : m.tris) {
    Vec3 n = cross(m.pos[t[1]] - m.pos[t[0]], m.pos[t[2]] - m.pos[t[0]]);
    for (uint32_t v : t) m.normal[v] += n;
  }
  for (auto& n : m.normal) n = normalize(n);
}

// Moves the mesh so its bounding box is centred on the origin and scales it so the box's
// largest side is `size` (OBJ models come in any unit and any place).
inline void normalize_mesh(Mesh& m, float size = 1.0f) {
  if (m.pos.empty()) return;
  Bounds b = bounds(m);
  Vec3 c = b.center(), s = b.size();
  float big = std::max({s.x, s.y, s.z});
  float k = big > 0 ? size / big : 1.0f;
  for (auto& p : m.pos) p = (p - c) * k;
}

// Appends `b` to `a` (materials of b are appended too).
inline void append(Mesh& a, const Mesh& b) {
  uint32_t base = uint32_t(a.pos.size());
  uint16_t mbase = uint16_t(a.materials.size());
  if (!a.uv.empty() || !b.uv.empty()) {  // keep one uv per vertex when either part has them
    a.uv.resize(a.pos.size(), {0.0f, 0.0f});
    if (b.uv.empty()) a.uv.resize(a.pos.size() + b.pos.size(), {0.0f, 0.0f});
    else a.uv.insert(a.uv.end(), b.uv.begin(), b.uv.end());
  }
  a.pos.insert(a.pos.end(), b.pos.begin(), b.pos.end());
  a.normal.insert(a.normal.end(), b.normal.begin(), b.normal.end());
  for (auto& t : b.tris) a.tris.push_back({t[0] + base, t[1] + base, t[2] + base});
  for (auto mi : b.tri_material) a.tri_material.push_back(uint16_t(mi + mbase));
  a.materials.insert(a.materials.end(), b.materials.begin(), b.materials.end());
}

// Where a mesh sits in the world: x_world = rotation * (scale * x_model) + translation.
struct Pose {
  Mat3 rotation;
  float scale = 1.0f;
  Vec3 translation;
  Vec3 apply(Vec3 p) const { return rotation * (p * scale) + translation; }
  Vec3 apply_normal(Vec3 n) const { return rotation * n; }
};

}  // namespace yolite::synth
