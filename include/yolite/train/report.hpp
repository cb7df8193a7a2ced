// train/report.hpp -- report.html: one self-contained page that shows a run.
//
//   train::Report r;
//   r.title = "runs/train/exp"; r.live = true; r.epochs = 30;
//   r.history = rows;  r.names = names;  r.val = &final_val;  r.label_counts = counts;
//   r.images = {dir / "val_batch0_pred.jpg", ...};
//   train::write_report(dir / "report.html", r);      // atomically (temporary name, rename)
//
// What the page holds: the loss and metric curves of every epoch (YOLOv5's results.png panels),
// the learning rates, the per-class table (Class, Images, Instances, P, R, mAP50, mAP50-95),
// the precision-recall curves, the confusion matrix, the label statistics and a gallery of the
// run's pictures. Everything is inline -- charts are SVG written here, pictures are base64 data
// URLs, no script, no network -- so the file can be mailed or opened from a disk. While a run
// is live the page reloads itself every 10 s (a meta refresh) and says so; the final write
// drops the refresh. `yolite train` rewrites it after every epoch; `yolite val` writes one for a
// validation run (no curves).
// Stable hooks for scripts and tests: each curve is `<polyline class="series" data-name=...>`
// with one point per epoch, per-class rows are `<tr class="class-row">`.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../io/file.hpp"
#include "../version.hpp"
#include "results_csv.hpp"
#include "validate.hpp"

namespace yolite::train {

struct Report {
  std::string title;                         // the run folder
  std::string kind = "train";                // "train" or "val"
  bool live = false;                         // reload every 10 s (the run goes on)
  int epochs = 0;                            // planned epochs (train)
  std::vector<EpochRow> history;             // one row per completed epoch
  std::vector<std::string> names;
  const ValResult* val = nullptr;            // per-class table, PR curves, confusion matrix
  std::vector<int> label_counts;             // training labels per class
  std::vector<std::filesystem::path> images; // pictures for the gallery (missing ones skipped)
  std::vector<std::pair<std::string, std::string>> facts;  // extra key/value lines (model, data ...)
};

namespace report_detail {

inline std::string esc(const std::string& s) {
  std::string r;
  for (char c : s) {
    switch (c) {
      case '&': r += "&amp;"; break;
      case '<': r += "&lt;"; break;
      case '>': r += "&gt;"; break;
      case '"': r += "&quot;"; break;
      case '\'': r += "&#39;"; break;
      default: r += c;
    }
  }
  return r;
}
inline std::string num(double v, const char* fmt = "%.4g") {
  if (!std::isfinite(v)) return "nan";
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}
inline std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
  }
  return out;
}
inline const char* color(size_t i) {
  static const char* c[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return c[i % 10];
}

struct Series {
  std::string name;
  std::vector<double> x, y;
};

// A line chart as inline SVG: axes with the data range, one polyline per series (a point per
// x value), a legend when there is more than one series.
inline std::string chart(const std::string& title, const std::vector<Series>& series, const std::string& xlabel,
                         double w = 300, double h = 200, bool unit_box = false) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (unit_box) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12 * std::max(1.0, std::abs(y1))) {  // a flat series: a range around it
    if (y0 == 0) y1 = 1;
    else y0 -= 0.05 * std::abs(y0), y1 += 0.05 * std::abs(y1);
  }
  // tick labels with as many decimals as the step between them needs
  const double step = (y1 - y0) / 4;
  const bool fixed = std::max(std::abs(y0), std::abs(y1)) < 1e4 && step > 1e-7;
  const int decimals = fixed ? std::clamp(int(1 - std::floor(std::log10(step))), 0, 8) : 0;
  auto tick = [&](double v) {
    char b[32];
    if (fixed) std::snprintf(b, sizeof b, "%.*f", decimals, std::abs(v) < 0.5 * step ? 0.0 : v);
    else std::snprintf(b, sizeof b, "%.3g", v);
    return std::string(b);
  };
  const double L = 58, R = 8, T = 22, B = 30, pw = w - L - R, ph = h - T - B;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * ph; };
  std::ostringstream o;
  o << "<svg class=\"chart\" data-title=\"" << esc(title) << "\" width=\"" << w << "\" height=\"" << h
    << "\" viewBox=\"0 0 " << w << " " << h << "\" xmlns=\"http://www.w3.org/2000/svg\">"
    << "<text x=\"" << w / 2 << "\" y=\"14\" text-anchor=\"middle\" class=\"ct\">" << esc(title) << "</text>"
    << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << pw << "\" height=\"" << ph << "\" class=\"frame\"/>";
  for (int k = 0; k <= 4; ++k) {  // y grid and labels
    const double v = y0 + (y1 - y0) * k / 4.0, yy = py(v);
    o << "<line x1=\"" << L << "\" x2=\"" << L + pw << "\" y1=\"" << yy << "\" y2=\"" << yy << "\" class=\"grid\"/>"
      << "<text x=\"" << L - 4 << "\" y=\"" << yy + 3 << "\" text-anchor=\"end\" class=\"tick\">" << tick(v) << "</text>";
  }
  o << "<text x=\"" << L << "\" y=\"" << h - 16 << "\" class=\"tick\">" << num(x0, "%.3g") << "</text>"
    << "<text x=\"" << L + pw << "\" y=\"" << h - 16 << "\" text-anchor=\"end\" class=\"tick\">" << num(x1, "%.3g") << "</text>"
    << "<text x=\"" << L + pw / 2 << "\" y=\"" << h - 4 << "\" text-anchor=\"middle\" class=\"tick\">" << esc(xlabel) << "</text>";
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    o << "<polyline class=\"series\" data-name=\"" << esc(s.name) << "\" fill=\"none\" stroke=\"" << color(k)
      << "\" stroke-width=\"" << (series.size() > 1 && k + 1 == series.size() && unit_box ? 2.5 : 1.5) << "\" points=\"";
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) o << (i ? " " : "") << num(px(s.x[i]), "%.1f") << "," << num(py(s.y[i]), "%.1f");
    o << "\"/>";
    if (s.x.size() == 1 && std::isfinite(s.y[0]))
      o << "<circle cx=\"" << num(px(s.x[0]), "%.1f") << "\" cy=\"" << num(py(s.y[0]), "%.1f") << "\" r=\"2.5\" fill=\"" << color(k) << "\"/>";
    if (series.size() > 1)
      o << "<text x=\"" << L + 6 << "\" y=\"" << T + 12 + 11 * double(k) << "\" class=\"legend\" fill=\"" << color(k) << "\">"
        << esc(s.name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

}  // namespace report_detail

inline std::string render_report(const Report& r) {
  using namespace report_detail;
  std::ostringstream o;
  const bool finished = !r.live;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  if (r.live) o << "<meta http-equiv=\"refresh\" content=\"10\">";
  o << "<title>" << esc("yolite " + r.kind + " " + r.title) << "</title><style>"
    << "body{font-family:sans-serif;margin:20px;color:#222;max-width:1400px}"
    << "h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}"
    << ".charts{display:flex;flex-wrap:wrap;gap:6px}.chart{background:#fff}"
    << ".ct{font-size:12px;font-weight:bold}.tick{font-size:10px;fill:#555}.legend{font-size:10px}"
    << ".frame{fill:none;stroke:#999}.grid{stroke:#eee}"
    << "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
    << "th:first-child,td:first-child{text-align:left}.status{color:#555}"
    << ".gallery img{max-width:640px;margin:4px;border:1px solid #ccc}.cm td{min-width:28px;text-align:center}"
    << "</style></head><body>\n";
  o << "<h1>yolite " << esc(r.kind) << ": " << esc(r.title) << "</h1>\n<p class=\"status\" id=\"status\">";
  if (r.kind == "train") {
    o << (finished ? "finished" : "running (this page reloads every 10 s)") << " &middot; "
      << r.history.size() << " of " << r.epochs << " epochs";
    if (!r.history.empty()) {
      auto best = std::max_element(r.history.begin(), r.history.end(), [](const EpochRow& a, const EpochRow& b) {
        return 0.1 * a.map50 + 0.9 * a.map < 0.1 * b.map50 + 0.9 * b.map;
      });
      o << " &middot; best epoch " << best->epoch << ": mAP@0.5 " << num(best->map50, "%.3f") << ", mAP@0.5:0.95 "
        << num(best->map, "%.3f");
    }
  } else {
    o << "validation";
  }
  o << " &middot; yolite " << YOLITE_VERSION << "</p>\n";
  if (!r.facts.empty()) {
    o << "<table class=\"facts\">";
    for (auto& [k, v] : r.facts) o << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>";
    o << "</table>\n";
  }

  if (!r.history.empty()) {
    o << "<h2>Training curves</h2>\n<div class=\"charts\" id=\"curves\">";
    std::vector<double> ep;
    for (auto& h : r.history) ep.push_back(double(h.epoch));
    auto panel = [&](const std::string& name, auto get) {
      Series s{name, ep, {}};
      for (auto& h : r.history) s.y.push_back(get(h));
      o << chart(name, {s}, "epoch");
    };
    panel("train/box_loss", [](const EpochRow& h) { return h.train_loss[0]; });
    panel("train/obj_loss", [](const EpochRow& h) { return h.train_loss[1]; });
    panel("train/cls_loss", [](const EpochRow& h) { return h.train_loss[2]; });
    panel("metrics/precision", [](const EpochRow& h) { return h.precision; });
    panel("metrics/recall", [](const EpochRow& h) { return h.recall; });
    panel("val/box_loss", [](const EpochRow& h) { return h.val_loss[0]; });
    panel("val/obj_loss", [](const EpochRow& h) { return h.val_loss[1]; });
    panel("val/cls_loss", [](const EpochRow& h) { return h.val_loss[2]; });
    panel("metrics/mAP_0.5", [](const EpochRow& h) { return h.map50; });
    panel("metrics/mAP_0.5:0.95", [](const EpochRow& h) { return h.map; });
    std::vector<Series> lr;
    for (int g = 0; g < 3; ++g) {
      Series s{str("x/lr", g), ep, {}};
      for (auto& h : r.history) s.y.push_back(h.lr[size_t(g)]);
      lr.push_back(s);
    }
    o << chart("learning rate", lr, "epoch") << "</div>\n";
  }

  if (r.val) {
    const ValResult& v = *r.val;
    auto name = [&](int c) { return c < int(r.names.size()) ? r.names[size_t(c)] : std::to_string(c); };
    o << "<h2>Per class</h2>\n<table id=\"classes\"><thead><tr><th>Class</th><th>Images</th><th>Instances</th>"
      << "<th>P</th><th>R</th><th>mAP50</th><th>mAP50-95</th></tr></thead><tbody>"
      << "<tr class=\"all-row\"><td>all</td><td>" << v.images << "</td><td>" << v.instances << "</td><td>"
      << num(v.metrics.mp, "%.3g") << "</td><td>" << num(v.metrics.mr, "%.3g") << "</td><td>" << num(v.metrics.map50, "%.3g")
      << "</td><td>" << num(v.metrics.map, "%.3g") << "</td></tr>";
    for (auto& c : v.metrics.per_class)
      o << "<tr class=\"class-row\"><td>" << esc(name(c.cls)) << "</td><td>" << v.images << "</td><td>" << c.n_gt
        << "</td><td>" << num(c.p, "%.3g") << "</td><td>" << num(c.r, "%.3g") << "</td><td>" << num(c.ap50(), "%.3g")
        << "</td><td>" << num(c.ap50_95(), "%.3g") << "</td></tr>";
    o << "</tbody></table>\n";
    const auto& m = v.metrics;
    if (!m.per_class.empty() && !m.recall_axis.empty()) {
      std::vector<Series> pr;
      std::vector<double> mean(m.recall_axis.size(), 0.0);
      // every 10th of the 1000 points: enough for a 400 px chart
      auto thin = [](const std::vector<double>& a) {
        std::vector<double> t;
        for (size_t i = 0; i < a.size(); i += 10) t.push_back(a[i]);
        if (!a.empty() && (a.size() - 1) % 10) t.push_back(a.back());
        return t;
      };
      for (size_t k = 0; k < m.per_class.size(); ++k) {
        pr.push_back({str(name(m.per_class[k].cls), " ", num(m.per_class[k].ap50(), "%.3f")), thin(m.recall_axis), thin(m.pr_curve[k])});
        for (size_t i = 0; i < mean.size(); ++i) mean[i] += m.pr_curve[k][i] / double(m.per_class.size());
      }
      pr.push_back({str("all classes ", num(m.map50, "%.3f"), " mAP@0.5"), thin(m.recall_axis), thin(mean)});
      o << "<h2>Precision-recall</h2>\n<div class=\"charts\" id=\"pr\">" << chart("precision vs recall (IoU 0.5)", pr, "recall", 460, 340, true)
        << "</div>\n";
    }
    if (v.confusion) {
      const auto& cm = *v.confusion;
      const int n = cm.nc();
      o << "<h2>Confusion matrix</h2>\n<table class=\"cm\" id=\"confusion\"><tr><th>predicted \\ true</th>";
      for (int t = 0; t <= n; ++t) o << "<th>" << esc(t < n ? name(t) : "background") << "</th>";
      o << "</tr>";
      for (int p = 0; p <= n; ++p) {
        o << "<tr><th>" << esc(p < n ? name(p) : "background") << "</th>";
        for (int t = 0; t <= n; ++t) {
          double col = 0;
          for (int q = 0; q <= n; ++q) col += cm.at(q, t);
          const double f = col > 0 ? cm.at(p, t) / col : 0;
          o << "<td style=\"background:rgba(31,119,180," << num(f, "%.2f") << ")\" title=\"" << num(cm.at(p, t), "%.0f")
            << "\">" << (col > 0 && cm.at(p, t) > 0 ? num(f, "%.2f") : "") << "</td>";
        }
        o << "</tr>";
      }
      o << "</table><p class=\"status\">Columns sum to 1 (the share of each true class); the title of each cell is its count.</p>\n";
    }
  }

  if (!r.label_counts.empty()) {
    int mx = 1;
    for (int c : r.label_counts) mx = std::max(mx, c);
    const double bw = 28, H = 150, W = 50 + bw * double(r.label_counts.size());
    o << "<h2>Labels</h2>\n<svg class=\"bars\" id=\"labels\" width=\"" << W << "\" height=\"" << H + 60 << "\" xmlns=\"http://www.w3.org/2000/svg\">";
    for (size_t c = 0; c < r.label_counts.size(); ++c) {
      const double bh = H * r.label_counts[c] / mx, x = 40 + bw * double(c);
      o << "<rect x=\"" << x << "\" y=\"" << 10 + H - bh << "\" width=\"" << bw - 6 << "\" height=\"" << bh << "\" fill=\"" << color(c)
        << "\"><title>" << esc(c < r.names.size() ? r.names[c] : std::to_string(c)) << ": " << r.label_counts[c] << "</title></rect>"
        << "<text x=\"" << x + (bw - 6) / 2 << "\" y=\"" << 10 + H - bh - 2 << "\" text-anchor=\"middle\" class=\"tick\">"
        << r.label_counts[c] << "</text><text transform=\"translate(" << x + 10 << "," << 14 + H << ") rotate(45)\" class=\"tick\">"
        << esc(c < r.names.size() ? r.names[c] : std::to_string(c)) << "</text>";
    }
    o << "</svg>\n";
  }

  std::string gallery;
  for (const auto& p : r.images) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) continue;
    const std::string bytes = io::read_file_bytes(p.string());
    const std::string ext = p.extension().string();
    const char* mime = (ext == ".png") ? "image/png" : "image/jpeg";
    gallery += "<figure><img alt=\"" + esc(p.filename().string()) + "\" src=\"data:" + mime + ";base64," + base64(bytes) +
               "\"><figcaption>" + esc(p.filename().string()) + "</figcaption></figure>";
  }
  if (!gallery.empty()) o << "<h2>Pictures</h2>\n<div class=\"gallery\" id=\"gallery\">" << gallery << "</div>\n";
  o << "</body></html>\n";
  return o.str();
}

inline void write_report(const std::filesystem::path& file, const Report& r) {
  io::AtomicWriter w(file.string(), io::AtomicWriter::Sync::none);
  w.write(render_report(r));
  w.commit();
}

}  // namespace yolite::train
