// synth/lathe.hpp -- surfaces of revolution: a 2-D profile (radius along the height) spun
// around the y axis into a triangle mesh, the way a glass bottle is blown or turned on a lathe.
//
// The profile runs from the bottom centre (r = 0) up the outside to the top centre (r = 0).
// Each point names the material of the band that starts at it, so label bands, caps and glass
// are simply ranges of the profile. Where the profile turns by more than `crease_deg` the
// normals are not averaged (a sharp edge: the base rim, the cap's top edge); elsewhere they
// are, and the surface shades smoothly. Texture coordinates are u = angle / 2 pi (0..1 around,
// the seam's two columns of vertices at 0 and 1) and v = the profile's y. `ripple` adds vertical flutes: the radius at angle
// theta is r * (1 + ripple * cos(flutes * theta)) -- the petaloid feet of a PET bottle.
//
//   std::vector<synth::ProfilePoint> p = {{0, 0, 0}, {1, 0, 0}, {1, 3, 0}, {0.3f, 4, 0}, {0, 4, 0}};
//   synth::Mesh m = synth::lathe(p, {glass}, 48);
#pragma once
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/error.hpp"
#include "mesh.hpp"

namespace yolite::synth {

struct ProfilePoint {
  float r = 0, y = 0;
  uint16_t material = 0;  // material of the band from this point to the next
  float ripple = 0;       // relative radius modulation by the flutes at this height
};

inline Mesh lathe(const std::vector<ProfilePoint>& profile, std::vector<Material> materials, int segments = 48,
                  int flutes = 0, float crease_deg = 40.0f) {
  YOLITE_CHECK(profile.size() >= 2, "synth::lathe: a profile needs at least 2 points, got ", profile.size());
  YOLITE_CHECK(segments >= 3, "synth::lathe: need at least 3 segments around, got ", segments);
  YOLITE_CHECK(!materials.empty(), "synth::lathe: no materials");
  for (auto& p : profile)
    YOLITE_CHECK(p.material < materials.size(), "synth::lathe: profile uses material ", p.material, " of ",
                 materials.size());
  Mesh m;
  m.materials = std::move(materials);
  const size_t n = profile.size();
  // Outward normal of each profile segment in the (r, y) plane: tangent (dr, dy) turned right.
  std::vector<float> snr(n - 1), sny(n - 1);
  for (size_t i = 0; i + 1 < n; ++i) {
    float dr = profile[i + 1].r - profile[i].r, dy = profile[i + 1].y - profile[i].y;
    float l = std::sqrt(dr * dr + dy * dy);
    snr[i] = l > 0 ? dy / l : 0, sny[i] = l > 0 ? -dr / l : 1;
  }
  const float cos_crease = std::cos(crease_deg * float(std::numbers::pi) / 180.0f);
  std::vector<float> cs(size_t(segments) + 1), sn(size_t(segments) + 1), rip(size_t(segments) + 1);
  for (int k = 0; k <= segments; ++k) {
    float a = 2.0f * float(std::numbers::pi) * float(k % segments) / float(segments);
    cs[size_t(k)] = std::cos(a), sn[size_t(k)] = std::sin(a);
    rip[size_t(k)] = std::cos(float(flutes) * a);
  }
  // Each profile segment gets its own two rings of vertices, so creases stay sharp; the end
  // normals are averaged with the neighbouring segment when the turn is gentle.
  for (size_t i = 0; i + 1 < n; ++i) {
    if (profile[i].r == profile[i + 1].r && profile[i].y == profile[i + 1].y) continue;
    if (profile[i].r <= 0 && profile[i + 1].r <= 0) continue;
    uint32_t base = uint32_t(m.pos.size());
    for (int end = 0; end < 2; ++end) {
      size_t j = i + size_t(end);
      float nr = snr[i], ny = sny[i];
      size_t nb = end == 0 ? i - 1 : i + 1;  // neighbouring segment
      bool has_nb = end == 0 ? i > 0 : i + 1 < n - 1;
      if (has_nb && snr[i] * snr[nb] + sny[i] * sny[nb] > cos_crease) {
        float ar = snr[i] + snr[nb], ay = sny[i] + sny[nb], l = std::sqrt(ar * ar + ay * ay);
        if (l > 1e-6f) nr = ar / l, ny = ay / l;
      }
      for (int k = 0; k <= segments; ++k) {
        float r = profile[j].r * (1.0f + profile[j].ripple * rip[size_t(k)]);
        m.pos.push_back({r * sn[size_t(k)], profile[j].y, r * cs[size_t(k)]});
        m.uv.push_back({float(k) / float(segments), profile[j].y});  // around, and the profile's height
        m.normal.push_back(normalize(Vec3{nr * sn[size_t(k)], ny, nr * cs[size_t(k)]}));
      }
    }
    uint32_t ring = uint32_t(segments) + 1;
    for (uint32_t k = 0; k < uint32_t(segments); ++k) {
      uint32_t a = base + k, b = base + k + 1, c = base + ring + k, d = base + ring + k + 1;
      if (profile[i].r > 0) {  // a degenerate ring (r = 0) needs only one triangle per quad
        m.tris.push_back({a, b, d});
        m.tri_material.push_back(profile[i].material);
      }
      if (profile[i + 1].r > 0) {
        m.tris.push_back({a, d, c});
        m.tri_material.push_back(profile[i].material);
      }
    }
  }
  return m;
}

}  // namespace yolite::synth
