// synth/raster.hpp -- a z-buffer triangle rasteriser with Phong shading and an object-id buffer.
//
// Why a rasteriser and not a ray tracer: every pixel centre is tested against every triangle
// that covers it with exact integer edge functions (vertices snapped to 1/16 pixel, the
// top-left fill rule), so coverage is exact and watertight -- a pixel belongs to exactly one
// of two triangles sharing an edge, there are no cracks and no double hits. The per-pixel
// object-id buffer that results is the ground truth for the annotations (tight boxes of the
// visible pixels, masks, areas), and it is fast: a bottle scene of ~20k triangles renders in
// a few milliseconds on one core, which is what makes 25,000 images a matter of minutes.
//
// The pipeline (one call of render_meshes):
//   1. vertices -> camera space (camera at the origin looking down -z, y up) -> screen;
//   2. opaque triangles: z-test (on 1/z, larger = nearer), keep the nearest triangle id and its
//      barycentrics per pixel (a visibility buffer);
//   3. shade each covered pixel once: Blinn-Phong (ambient + diffuse + specular), two-sided;
//   4. transparent triangles sorted back to front: each fragment in front of the opaque depth
//      blends over the colour behind it (tinted by the material's colour, more opaque at
//      grazing angles as glass is, optionally refracted and reflecting an Environment), and
//      claims the pixel's id if it is the nearest surface.
// The caller fills fb.rgb with the background first. Shadows are drawn elsewhere (shadows.hpp).
//
//   synth::FrameBuffer fb(300, 300);                       // rgb = 0, ids = 0
//   synth::render_meshes(fb, cam, light, {{&mesh, pose, 1}});
//   // fb.id[y * w + x] == 1 where the mesh is the nearest surface
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <vector>

#include "../core/error.hpp"
#include "mesh.hpp"

namespace yolite::synth {

struct Camera {
  int w = 0, h = 0;
  float focal = 1;  // pixels; pinhole at the origin looking down -z
  // Pixel aspect: the horizontal focal length over the vertical one. Not 1 when the image is a
  // photo of another shape resized to w x h by stretching (0.75: a 4:3 landscape photo squeezed
  // to a square, so everything in it looks narrower).
  float aspect = 1;
  float fx() const { return focal * aspect; }
  // Pixel position of a camera-space point (z < 0 in front of the camera).
  float sx(Vec3 p) const { return 0.5f * float(w) + fx() * p.x / -p.z; }
  float sy(Vec3 p) const { return 0.5f * float(h) - focal * p.y / -p.z; }
  // The camera-space point at distance d in front of the camera that lands on pixel (u, v).
  Vec3 unproject(float u, float v, float d) const {
    return {(u - 0.5f * float(w)) * d / fx(), -(v - 0.5f * float(h)) * d / focal, -d};
  }
};

// What surrounds the scene, as a function of direction (camera space, y up): a sky above the
// horizon, a darker ground below, and up to four bright windows (soft rectangles in azimuth
// and elevation) -- a cheap stand-in for an environment map. Radiance may exceed 1.
struct Environment {
  Vec3 sky{0.8f, 0.85f, 0.9f}, ground{0.25f, 0.23f, 0.2f};
  struct Window {
    float azimuth = 0, half_width = 0.2f;   // radians, about the camera's +z (towards the viewer)
    float el_lo = 0.1f, el_hi = 0.8f;       // elevation range, radians
    float radiance = 3.0f;
  };
  int windows = 0;
  Window window[4];
  Vec3 operator()(Vec3 r) const {
    const float el = std::asin(std::clamp(r.y, -1.0f, 1.0f)), az = std::atan2(r.x, r.z);
    const float t = std::clamp(0.5f + 4.0f * r.y, 0.0f, 1.0f);  // a soft horizon
    Vec3 c = ground + (sky - ground) * t;
    for (int k = 0; k < windows; ++k) {
      const Window& w = window[k];
      const float da = std::fabs(std::remainder(az - w.azimuth, 2.0f * std::numbers::pi_v<float>));
      const float fa = std::clamp((w.half_width - da) / (0.3f * w.half_width) + 0.5f, 0.0f, 1.0f);
      const float fe = std::clamp(std::min(el - w.el_lo, w.el_hi - el) / 0.05f + 0.5f, 0.0f, 1.0f);
      c += Vec3{1, 1, 1} * (w.radiance * fa * fe);
    }
    return c;
  }
};

struct Light {
  Vec3 dir{0.3f, 0.6f, 0.75f};   // towards the light, camera space, unit length
  Vec3 color{1, 1, 1};
  Vec3 ambient{0.3f, 0.3f, 0.32f};
  // Refraction through transparent surfaces, in pixels: what is seen through glass or clear
  // plastic is the scene behind it shifted along the surface normal's screen direction by up
  // to this much (more at grazing angles, where the wall is seen edge-on) -- an approximation
  // that bends the background's edges across a bottle as a real one does. 0 = see-through.
  float refraction_px = 0.0f;
  // Reflections of the surroundings on glass and clear plastic (0 = none): the environment
  // below, seen in the mirror direction and weighted by Fresnel's term, so walls facing the
  // camera reflect a little and grazing walls a lot -- the bright rims and the long vertical
  // streaks of windows and sky that real bottles show.
  float reflection = 0.0f;
  Environment environment;
};

// One mesh to draw: where it is and the id its pixels get (1..65535; 0 is the background's id:
// an unlabelled surface such as a distractor, which hides what is behind it).
struct DrawItem {
  const Mesh* mesh = nullptr;
  Pose pose;
  uint16_t id = 1;
};

struct FrameBuffer {
  int w = 0, h = 0;
  std::vector<float> rgb;       // w*h*3 colour in [0, 1] (linear, display-ready)
  std::vector<uint16_t> id;     // w*h: id of the nearest surface, 0 = background
  std::vector<float> depth;     // w*h: 1/z of the nearest opaque surface (0 = nothing)
  std::vector<float> id_depth;  // w*h: 1/z of the nearest surface of any kind
  FrameBuffer() = default;
  FrameBuffer(int width, int height) { resize(width, height); }
  void resize(int width, int height) {
    YOLITE_CHECK(width > 0 && height > 0, "synth::FrameBuffer: bad size ", width, "x", height);
    w = width, h = height;
    size_t n = size_t(w) * size_t(h);
    rgb.assign(n * 3, 0.0f);
    id.assign(n, 0);
    depth.assign(n, 0.0f);
    id_depth.assign(n, 0.0f);
  }
};

namespace detail {

struct ScreenVert {
  int64_t fx = 0, fy = 0;  // position in 1/16 pixel
  float invz = 0;          // 1 / distance along -z
  Vec3 n;                  // camera-space normal
  float u = 0, v = 0;      // texture coordinates
  bool ok = false;         // in front of the near plane and in a sane range
};

struct Tri {
  uint32_t v[3];
  uint32_t mat;  // index into the global material list
  uint16_t id;
};

inline constexpr int kSub = 16;  // sub-pixel steps per pixel

// The top-left rule: an edge (dx, dy) owns the pixel centres lying exactly on it when it is
// a "top" or "left" edge for our winding; the same edge walked the other way (by the
// neighbouring triangle) does not, so every centre is covered exactly once.
inline int64_t edge_bias(int64_t dx, int64_t dy) { return (dy > 0 || (dy == 0 && dx < 0)) ? 0 : -1; }

// Calls f(x, y, w0, w1, w2) for every pixel centre inside triangle (a, b, c), where w are the
// (unnormalised, non-negative) edge functions opposite each vertex; w0 + w1 + w2 = area.
template <class F>
void raster_triangle(const ScreenVert& a, const ScreenVert& b0, const ScreenVert& c0, int w, int h, F&& f) {
  const ScreenVert* pb = &b0;
  const ScreenVert* pc = &c0;
  int64_t area = (pb->fx - a.fx) * (pc->fy - a.fy) - (pb->fy - a.fy) * (pc->fx - a.fx);
  if (area == 0) return;
  bool swapped = area < 0;
  if (swapped) std::swap(pb, pc), area = -area;
  const ScreenVert &b = *pb, &c = *pc;
  int64_t minx = std::min({a.fx, b.fx, c.fx}), maxx = std::max({a.fx, b.fx, c.fx});
  int64_t miny = std::min({a.fy, b.fy, c.fy}), maxy = std::max({a.fy, b.fy, c.fy});
  // pixel x covers centre x*16 + 8
  int x0 = int(std::max<int64_t>(0, (minx - kSub / 2 + kSub - 1) / kSub));
  int x1 = int(std::min<int64_t>(w - 1, (maxx - kSub / 2) / kSub));
  int y0 = int(std::max<int64_t>(0, (miny - kSub / 2 + kSub - 1) / kSub));
  int y1 = int(std::min<int64_t>(h - 1, (maxy - kSub / 2) / kSub));
  if (minx < kSub / 2) x0 = 0;
  if (miny < kSub / 2) y0 = 0;
  if (x0 > x1 || y0 > y1) return;
  // Edge function of edge p->q at point s: (q - p) x (s - p); positive inside for area > 0.
  auto setup = [](const ScreenVert& p, const ScreenVert& q, int64_t& ex, int64_t& ey, int64_t& bias) {
    ex = q.fx - p.fx, ey = q.fy - p.fy;
    bias = edge_bias(ex, ey);
  };
  int64_t e0x, e0y, bias0, e1x, e1y, bias1, e2x, e2y, bias2;
  setup(b, c, e0x, e0y, bias0);  // opposite a
  setup(c, a, e1x, e1y, bias1);  // opposite b
  setup(a, b, e2x, e2y, bias2);  // opposite c
  int64_t sx = int64_t(x0) * kSub + kSub / 2, sy = int64_t(y0) * kSub + kSub / 2;
  int64_t w0_row = e0x * (sy - b.fy) - e0y * (sx - b.fx);
  int64_t w1_row = e1x * (sy - c.fy) - e1y * (sx - c.fx);
  int64_t w2_row = e2x * (sy - a.fy) - e2y * (sx - a.fx);
  const int64_t step0 = -e0y * kSub, step1 = -e1y * kSub, step2 = -e2y * kSub;
  for (int y = y0; y <= y1; ++y) {
    int64_t w0 = w0_row, w1 = w1_row, w2 = w2_row;
    for (int x = x0; x <= x1; ++x) {
      if ((w0 + bias0) >= 0 && (w1 + bias1) >= 0 && (w2 + bias2) >= 0) {
        float inv = 1.0f / float(area);
        float l0 = float(w0) * inv, l1 = float(w1) * inv, l2 = float(w2) * inv;
        if (swapped) f(x, y, l0, l2, l1);  // report weights in the caller's vertex order
        else f(x, y, l0, l1, l2);
      }
      w0 += step0, w1 += step1, w2 += step2;
    }
    w0_row += e0x * kSub, w1_row += e1x * kSub, w2_row += e2x * kSub;
  }
}

// Blinn-Phong with a hemispherical ambient term; n and v unit length, n facing v.
inline void phong(const Material& m, Vec3 albedo, const Light& L, Vec3 n, Vec3 v, Vec3& diffuse, Vec3& specular) {
  float ndl = std::max(0.0f, dot(n, L.dir));
  float sky = 0.75f + 0.25f * n.y;
  diffuse = albedo * (L.ambient * sky + L.color * ndl);
  Vec3 hv = normalize(L.dir + v);
  float ndh = std::max(0.0f, dot(n, hv));
  float s = ndl > 0 ? m.specular * std::pow(ndh, m.shininess) : 0.0f;
  specular = L.color * s;
}

}  // namespace detail

// Renders the items over what fb.rgb holds (see the file comment). Triangles reaching behind
// the near plane (z > -near) are skipped whole.
// shade = false fills only the id and depth buffers (coverage, for shadows); rgb is untouched.
inline void render_meshes(FrameBuffer& fb, const Camera& cam, const Light& light, const std::vector<DrawItem>& items,
                          float near = 1e-3f, bool shade = true) {
  YOLITE_CHECK(fb.w == cam.w && fb.h == cam.h, "synth::render_meshes: frame buffer ", fb.w, "x", fb.h,
               " does not match the camera's ", cam.w, "x", cam.h);
  using namespace detail;
  std::vector<ScreenVert> verts;
  std::vector<Tri> tris;
  std::vector<const Material*> mats;
  for (const DrawItem& it : items) {
    YOLITE_CHECK(it.mesh != nullptr, "synth::render_meshes: null mesh");
    const Mesh& m = *it.mesh;
    YOLITE_CHECK(m.normal.size() == m.pos.size() && m.tri_material.size() == m.tris.size(),
                 "synth::render_meshes: mesh has ", m.pos.size(), " positions, ", m.normal.size(), " normals, ",
                 m.tris.size(), " triangles and ", m.tri_material.size(), " triangle materials");
    uint32_t vbase = uint32_t(verts.size()), mbase = uint32_t(mats.size());
    for (auto& mat : m.materials) mats.push_back(&mat);
    for (size_t i = 0; i < m.pos.size(); ++i) {
      Vec3 p = it.pose.apply(m.pos[i]);
      ScreenVert sv;
      sv.n = normalize(it.pose.apply_normal(m.normal[i]));
      if (i < m.uv.size()) sv.u = m.uv[i][0], sv.v = m.uv[i][1];
      if (-p.z > near) {
        float sx = cam.sx(p), sy = cam.sy(p);
        if (std::fabs(sx) < 1e6f && std::fabs(sy) < 1e6f) {
          sv.fx = std::llround(double(sx) * kSub), sv.fy = std::llround(double(sy) * kSub);
          sv.invz = 1.0f / -p.z;
          sv.ok = true;
        }
      }
      verts.push_back(sv);
    }
    for (size_t t = 0; t < m.tris.size(); ++t) {
      const auto& tri = m.tris[t];
      YOLITE_CHECK(tri[0] < m.pos.size() && tri[1] < m.pos.size() && tri[2] < m.pos.size(),
                   "synth::render_meshes: triangle ", t, " indexes a vertex past ", m.pos.size());
      YOLITE_CHECK(m.tri_material[t] < m.materials.size(), "synth::render_meshes: triangle ", t, " uses material ",
                   m.tri_material[t], " of ", m.materials.size());
      if (!verts[vbase + tri[0]].ok || !verts[vbase + tri[1]].ok || !verts[vbase + tri[2]].ok) continue;
      tris.push_back({{vbase + tri[0], vbase + tri[1], vbase + tri[2]}, mbase + m.tri_material[t], it.id});
    }
  }
  const int W = fb.w, H = fb.h;
  const size_t N = size_t(W) * size_t(H);
  // ---- 2. opaque visibility pass
  std::vector<int32_t> vis(N, -1);
  std::vector<float> vb1(N), vb2(N);
  std::vector<uint32_t> transparent;
  for (uint32_t t = 0; t < tris.size(); ++t) {
    const Tri& T = tris[t];
    if (mats[T.mat]->opacity < 1.0f) {
      transparent.push_back(t);
      continue;
    }
    const ScreenVert &a = verts[T.v[0]], &b = verts[T.v[1]], &c = verts[T.v[2]];
    raster_triangle(a, b, c, W, H, [&](int x, int y, float l0, float l1, float l2) {
      size_t i = size_t(y) * W + x;
      float iz = l0 * a.invz + l1 * b.invz + l2 * c.invz;
      if (iz <= fb.depth[i]) return;
      fb.depth[i] = iz;
      fb.id_depth[i] = iz;
      fb.id[i] = T.id;
      vis[i] = int32_t(t);
      vb1[i] = l1, vb2[i] = l2;
    });
  }
  // ---- 3. shade the visible opaque pixels once
  auto view_dir = [&](int x, int y) {  // unit vector from the surface towards the camera
    return normalize(Vec3{-(float(x) + 0.5f - 0.5f * W) / cam.fx(), (float(y) + 0.5f - 0.5f * H) / cam.focal, 1.0f});
  };
  auto normal_at = [&](const Tri& T, float l0, float l1, float l2, Vec3 v) {
    const ScreenVert &a = verts[T.v[0]], &b = verts[T.v[1]], &c = verts[T.v[2]];
    float p0 = l0 * a.invz, p1 = l1 * b.invz, p2 = l2 * c.invz;  // perspective-correct weights
    Vec3 n = normalize(a.n * p0 + b.n * p1 + c.n * p2);
    return dot(n, v) < 0 ? n * -1.0f : n;  // two-sided
  };
  auto albedo_at = [&](const Tri& T, const Material& M, float l0, float l1, float l2) {
    if (!M.texture) return M.color;
    const ScreenVert &a = verts[T.v[0]], &b = verts[T.v[1]], &c = verts[T.v[2]];
    float p0 = l0 * a.invz, p1 = l1 * b.invz, p2 = l2 * c.invz, inv = 1.0f / std::max(p0 + p1 + p2, 1e-30f);
    float u = (p0 * a.u + p1 * b.u + p2 * c.u) * inv, v = (p0 * a.v + p1 * b.v + p2 * c.v) * inv;
    float span = M.tex_v1 - M.tex_v0;
    return M.color * M.texture->sample(u, span != 0 ? (v - M.tex_v0) / span : v);
  };
  for (size_t i = 0; shade && i < N; ++i) {
    if (vis[i] < 0) continue;
    int x = int(i % size_t(W)), y = int(i / size_t(W));
    const Tri& T = tris[size_t(vis[i])];
    Vec3 v = view_dir(x, y);
    const float l0 = 1.0f - vb1[i] - vb2[i];
    Vec3 n = normal_at(T, l0, vb1[i], vb2[i], v);
    Vec3 d, s;
    phong(*mats[T.mat], albedo_at(T, *mats[T.mat], l0, vb1[i], vb2[i]), light, n, v, d, s);
    Vec3 c = d + s;
    fb.rgb[3 * i] = c.x, fb.rgb[3 * i + 1] = c.y, fb.rgb[3 * i + 2] = c.z;
  }
  // ---- 4. transparent triangles, back to front
  std::vector<float> key(tris.size());
  for (uint32_t t : transparent) {
    const Tri& T = tris[t];
    key[t] = verts[T.v[0]].invz + verts[T.v[1]].invz + verts[T.v[2]].invz;
  }
  std::stable_sort(transparent.begin(), transparent.end(), [&](uint32_t p, uint32_t q) { return key[p] < key[q]; });
  // the opaque scene, for refraction: each transparent layer shifts what lies behind it by the
  // difference between the displaced and the straight-through opaque colour
  std::vector<float> under;
  if (shade && light.refraction_px > 0 && !transparent.empty()) under = fb.rgb;
  auto opaque_at = [&](float fx, float fy, int c) {
    const int xx = std::clamp(int(std::lround(fx)), 0, W - 1), yy = std::clamp(int(std::lround(fy)), 0, H - 1);
    return under[(size_t(yy) * size_t(W) + size_t(xx)) * 3 + size_t(c)];
  };
  for (uint32_t t : transparent) {
    const Tri& T = tris[t];
    const Material& M = *mats[T.mat];
    const ScreenVert &a = verts[T.v[0]], &b = verts[T.v[1]], &c = verts[T.v[2]];
    float cmax = std::max({M.color.x, M.color.y, M.color.z, 1e-3f});
    float tint_k = std::min(1.0f, 2.0f * M.opacity);
    Vec3 tint = lerp(Vec3{1, 1, 1}, M.color * (1.0f / cmax), tint_k);
    raster_triangle(a, b, c, W, H, [&](int x, int y, float l0, float l1, float l2) {
      size_t i = size_t(y) * W + x;
      float iz = l0 * a.invz + l1 * b.invz + l2 * c.invz;
      if (iz <= fb.depth[i]) return;
      if (iz > fb.id_depth[i]) fb.id_depth[i] = iz, fb.id[i] = T.id;
      if (!shade) return;
      Vec3 v = view_dir(x, y);
      Vec3 n = normal_at(T, l0, l1, l2, v);
      float facing = std::max(0.0f, dot(n, v)), g = 1.0f - facing;
      float alpha = M.opacity + (1.0f - M.opacity) * 0.7f * g * g * g;  // glass edges look darker
      Vec3 d, s;
      phong(M, albedo_at(T, M, l0, l1, l2), light, n, v, d, s);
      Vec3 behind{fb.rgb[3 * i], fb.rgb[3 * i + 1], fb.rgb[3 * i + 2]};
      if (!under.empty()) {
        const float k = light.refraction_px * (0.35f + 0.65f * g) * (1.0f + M.lens);
        const float sx = float(x) - k * n.x, sy = float(y) + k * n.y;  // camera y is up, image y down
        behind.x += opaque_at(sx, sy, 0) - under[3 * i];
        behind.y += opaque_at(sx, sy, 1) - under[3 * i + 1];
        behind.z += opaque_at(sx, sy, 2) - under[3 * i + 2];
      }
      Vec3 out = behind * tint * (1.0f - alpha) + d * alpha + s;
      if (light.reflection > 0) {  // Schlick's Fresnel term with F0 = 0.04 (glass, PET)
        const float g2 = g * g, fresnel = 0.04f + 0.96f * g2 * g2 * g;
        const Vec3 r = n * (2.0f * facing) - v;
        out += light.environment(r) * (light.reflection * fresnel);
      }
      fb.rgb[3 * i] = out.x, fb.rgb[3 * i + 1] = out.y, fb.rgb[3 * i + 2] = out.z;
    });
  }
}

}  // namespace yolite::synth
