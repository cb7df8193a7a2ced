// model/detect.hpp -- YOLOv5's Detect head: one 1x1 conv (with bias) per level, and decoding.
//
//   model::Detect<float> det(nc, anchors_px, {64, 128, 256}, {8, 16, 32});
//   std::vector<Var<float>> raw = det.forward_raw({p3, p4, p5});  // [B, na*no, ny, nx] each
//   Tensor<float> y = det.decode(raw);                               // [B, N, no]
//   Tensor<float> c = det.decode_above(raw, /*image=*/0, 0.25f);    // rows with obj > 0.25
//
// no = 5 + nc outputs per anchor; the conv of level l has na*no channels laid out as
// channel = a*no + k, k in (x, y, w, h, obj, cls...). to_yolov5_layout() views a raw map as
// YOLOv5's (B, na, ny, nx, no), which is what its training loss and `model(x)[1]` use.
//
// Decoding (eval mode), with s = sigmoid(raw) and (gx, gy) the cell:
//   x, y = (2*s_xy - 0.5 + (gx, gy)) * stride      w, h = (2*s_wh)^2 * anchor_px
//   obj, cls = s
// Rows of y are ordered level, anchor, gy, gx: row = offset_l + (a*ny + gy)*nx + gx.
// (sigmoid is ops::sigmoid_fast: exp_approx for float, relative error ~1e-7; std::exp for double.)
//
// Tensors: "anchors" [nl, na, 2] in grid units (pixels / stride), then "m.{l}.weight",
// "m.{l}.bias". Initial biases (YOLOv5's _initialize_biases, priors for 640 px images):
// obj += log(8 / (640/stride)^2) (about 8 objects per image), cls += log(0.6 / (nc - 0.99)).
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "../core/parallel.hpp"
#include "../nn/conv.hpp"
#include "../ops/cpu/activation.hpp"  // ops::sigmoid_forward

namespace yolite::model {

template <class T>
class Detect : public nn::Module<T> {
 public:
  // anchors_px: per level, na (w, h) pairs in pixels, flattened: {{10,13, 16,30, 33,23}, ...}.
  Detect(int nc, const std::vector<std::vector<double>>& anchors_px, const std::vector<int>& ch,
         const std::vector<double>& strides)
      : nc(nc), no(nc + 5), nl(int(anchors_px.size())), stride(strides) {
    YOLITE_CHECK(nc >= 1, "Detect: number of classes must be >= 1, got ", nc);
    YOLITE_CHECK(nl >= 1 && int(ch.size()) == nl && int(strides.size()) == nl,
                 "Detect: ", nl, " anchor levels but ", ch.size(), " inputs and ", strides.size(),
                 " strides");
    na = int(anchors_px[0].size() / 2);
    for (int l = 0; l < nl; ++l)
      YOLITE_CHECK(anchors_px[l].size() % 2 == 0 && int(anchors_px[l].size()) == 2 * na && na > 0,
                   "Detect: anchor level ", l, " has ", anchors_px[l].size(),
                   " numbers; expected ", 2 * na, " (w,h pairs, the same count on every level)");
    anchors = Tensor<T>({nl, na, 2});
    for (int l = 0; l < nl; ++l) {
      YOLITE_CHECK(strides[l] > 0, "Detect: stride of level ", l, " is ", strides[l]);
      for (int j = 0; j < 2 * na; ++j) anchors[l * 2 * na + j] = T(anchors_px[l][j] / strides[l]);
    }
    this->register_buffer("anchors", anchors);
    m = this->register_module("m", std::make_shared<nn::ModuleList<T>>());
    for (int l = 0; l < nl; ++l)
      convs.push_back(m->push_back(std::make_shared<nn::Conv2d<T>>(ch[l], na * no, 1, 1, 0, true)));
  }
  std::string type_name() const override { return "Detect"; }

  // The raw logits of every level, [B, na*no, ny, nx] (what the training loss consumes).
  std::vector<Var<T>> forward_raw(const std::vector<Var<T>>& xs) {
    YOLITE_CHECK(int(xs.size()) == nl, "Detect: expects ", nl, " inputs, got ", xs.size());
    std::vector<Var<T>> out;
    for (int l = 0; l < nl; ++l) out.push_back(convs[l]->forward(xs[l]));
    return out;
  }

  // Decoded predictions [B, N, no] (N = sum over levels of na*ny*nx), see the top comment.
  Tensor<T> decode(const std::vector<Var<T>>& raw) const {
    std::vector<Tensor<T>> t;
    for (auto& r : raw) t.push_back(r.value());
    return decode(t);
  }
  Tensor<T> decode(const std::vector<Tensor<T>>& raw) const {
    YOLITE_CHECK(int(raw.size()) == nl, "Detect::decode: expects ", nl, " maps, got ", raw.size());
    const int64_t B = raw[0].size(0);
    int64_t N = 0;
    for (int l = 0; l < nl; ++l) {
      const Tensor<T>& r = raw[l];
      YOLITE_CHECK(r.ndim() == 4 && r.size(0) == B && r.size(1) == na * no,
                   "Detect::decode: map ", l, " must be [", B, ", ", na * no, ", ny, nx], got ",
                   r.shape().str());
      N += na * r.size(2) * r.size(3);
    }
    // sigmoid over each whole map first (contiguous, vectorised: ops::sigmoid_forward), then
    // one task per (level, image, anchor, grid row), in parallel, transposes to rows of no
    std::vector<Tensor<T>> sg;
    std::vector<int64_t> first_task(size_t(nl) + 1, 0), level_offset(size_t(nl), 0);
    for (int l = 0; l < nl; ++l) {
      sg.push_back(Tensor<T>::uninit(raw[l].shape()));
      ops::sigmoid_forward(raw[l].data(), sg.back().data(), raw[l].numel());
      first_task[size_t(l) + 1] = first_task[size_t(l)] + B * na * raw[l].size(2);
      if (l > 0) level_offset[size_t(l)] = level_offset[size_t(l) - 1] +
                                             na * raw[l - 1].size(2) * raw[l - 1].size(3);
    }
    Tensor<T> y = Tensor<T>::uninit({B, N, no});
    parallel_for(0, first_task[size_t(nl)], [&](int64_t task) {
      int l = 0;
      while (task >= first_task[size_t(l) + 1]) ++l;
      const int64_t ny = raw[l].size(2), nx = raw[l].size(3), plane = ny * nx;
      const int64_t local = task - first_task[size_t(l)];
      const int64_t gy = local % ny, a = (local / ny) % na, b = local / ny / na;
      const T s = T(stride[l]);
      const T aw = anchors[(l * na + a) * 2] * s, ah = anchors[(l * na + a) * 2 + 1] * s;
      const T* src = sg[size_t(l)].data() + (b * na * no + a * no) * plane + gy * nx;
      T* dst = y.data() + (b * N + level_offset[size_t(l)] + a * plane + gy * nx) * no;
      for (int k = 0; k < no; ++k)
        for (int64_t gx = 0; gx < nx; ++gx) dst[gx * no + k] = src[int64_t(k) * plane + gx];
      for (int64_t gx = 0; gx < nx; ++gx) decode_box(dst + gx * no, gx, gy, s, aw, ah);
    });
    return y;
  }

  // The rows of decode(raw) for image b whose objectness (column 4, a sigmoid) is above
  // obj_thres, in decode's row order, [M, no] -- without decoding the other rows. Detection
  // keeps only such rows (non_max_suppression's first test), and at a usual conf_thres they
  // are a few hundred of decode's 25200 rows at 640 px, so this skips most of the work.
  Tensor<T> decode_above(const std::vector<Tensor<T>>& raw, int64_t b, T obj_thres) const {
    YOLITE_CHECK(int(raw.size()) == nl, "Detect::decode_above: expects ", nl, " maps, got ",
                 raw.size());
    const int64_t B = raw[0].size(0);
    YOLITE_CHECK(b >= 0 && b < B, "Detect::decode_above: image ", b, " of a batch of ", B);
    std::vector<std::pair<int, int64_t>> hits;  // (level, a*plane + cell), decode's row order
    for (int l = 0; l < nl; ++l) {
      const Tensor<T>& r = raw[l];
      YOLITE_CHECK(r.ndim() == 4 && r.size(0) == B && r.size(1) == na * no,
                   "Detect::decode_above: map ", l, " must be [", B, ", ", na * no,
                   ", ny, nx], got ", r.shape().str());
      const int64_t plane = r.size(2) * r.size(3);
      for (int a = 0; a < na; ++a) {
        const T* obj = r.data() + ((b * na + a) * no + 4) * plane;
        for (int64_t i = 0; i < plane; ++i)
          if (ops::sigmoid_fast(obj[i]) > obj_thres) hits.emplace_back(l, a * plane + i);
      }
    }
    Tensor<T> y = Tensor<T>::uninit({int64_t(hits.size()), int64_t(no)});
    for (size_t h = 0; h < hits.size(); ++h) {
      const int l = hits[h].first;
      const int64_t nx = raw[l].size(3), plane = raw[l].size(2) * nx;
      const int64_t a = hits[h].second / plane, cell = hits[h].second % plane;
      const int64_t gy = cell / nx, gx = cell % nx;
      const T s = T(stride[l]);
      const T aw = anchors[(l * na + a) * 2] * s, ah = anchors[(l * na + a) * 2 + 1] * s;
      const T* src = raw[l].data() + (b * na + a) * no * plane + cell;
      T* d = y.data() + int64_t(h) * no;
      for (int k = 0; k < no; ++k) d[k] = ops::sigmoid_fast(src[int64_t(k) * plane]);
      decode_box(d, gx, gy, s, aw, ah);
    }
    return y;
  }
  Tensor<T> decode_above(const std::vector<Var<T>>& raw, int64_t b, T obj_thres) const {
    std::vector<Tensor<T>> t;
    for (auto& r : raw) t.push_back(r.value());
    return decode_above(t, b, obj_thres);
  }

  // The box of one row d (sigmoids already taken) of cell (gx, gy), stride s, anchor (aw, ah)
  // in pixels. YOLOv5: xy = (s*2 + (grid - 0.5)) * stride; wh = (s*2)^2 * anchor_grid.
  static void decode_box(T* d, int64_t gx, int64_t gy, T s, T aw, T ah) {
    d[0] = (d[0] * T(2) + (T(gx) - T(0.5))) * s;
    d[1] = (d[1] * T(2) + (T(gy) - T(0.5))) * s;
    d[2] = (d[2] * T(2)) * (d[2] * T(2)) * aw;
    d[3] = (d[3] * T(2)) * (d[3] * T(2)) * ah;
  }

  // A raw map [B, na*no, ny, nx] rearranged as YOLOv5's (B, na, ny, nx, no) (a copy).
  static Tensor<T> to_yolov5_layout(const Tensor<T>& raw, int na) {
    YOLITE_CHECK(raw.ndim() == 4 && na > 0 && raw.size(1) % na == 0,
                 "to_yolov5_layout: expected [B, na*no, ny, nx] with na = ", na, ", got ",
                 raw.shape().str());
    const int64_t B = raw.size(0), no = raw.size(1) / na, ny = raw.size(2), nx = raw.size(3);
    const int64_t plane = ny * nx;
    Tensor<T> out({B, int64_t(na), ny, nx, no});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t a = 0; a < na; ++a)
        for (int64_t k = 0; k < no; ++k) {
          const T* src = raw.data() + ((b * na + a) * no + k) * plane;
          T* dst = out.data() + (b * na + a) * plane * no + k;
          for (int64_t c = 0; c < plane; ++c) dst[c * no] = src[c];
        }
    return out;
  }

  const int nc, no, nl;
  int na = 3;
  std::vector<double> stride;
  Tensor<T> anchors;  // [nl, na, 2], grid units
  std::shared_ptr<nn::ModuleList<T>> m;
  std::vector<std::shared_ptr<nn::Conv2d<T>>> convs;

 protected:
  // YOLOv5's _initialize_biases (cf = None): after the default conv init.
  void after_init(Rng&) override {
    for (int l = 0; l < nl; ++l) {
      Tensor<T>& b = convs[l]->bias.value();
      const double cells = (640.0 / stride[l]) * (640.0 / stride[l]);
      for (int a = 0; a < na; ++a) {
        b[a * no + 4] += T(std::log(8.0 / cells));
        for (int c = 0; c < nc; ++c) b[a * no + 5 + c] += T(std::log(0.6 / (nc - 0.99)));
      }
    }
  }
};

}  // namespace yolite::model
