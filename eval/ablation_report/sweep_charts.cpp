// The charts of the sweep report (sweep_report.h): score against each numeric axis per metric with
// error bars, scores per variant as grouped bars (categorical axes), and the two-metric trade-off
// with its Pareto frontier. Drawn on the run report's canvas (eval/run_report/svg_canvas.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/ablation_report/sweep_report.h"
#include "eval/run_report/svg_canvas.h"

namespace mm::eval::ablation {
namespace {

using svg::detail::Canvas;
using svg::detail::color;

// The interval shown around a cell's mean: the t-interval over seeds (cut to the scores' range [0, 1]: with two
// seeds it spans 12.7 standard errors and would squeeze the axis), else the Wilson interval.
std::pair<double, double> interval_of(const Cell& c) {
  if (c.summary.lo) return {std::max(0.0, *c.summary.lo), std::min(1.0, *c.summary.hi)};
  if (c.wilson_lo) return {*c.wilson_lo, *c.wilson_hi};
  return {c.summary.mean, c.summary.mean};
}

std::string file_part(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.' && ch != '_') ch = '_';
  return s;
}

// A y axis in % over [lo, hi] (fractions), a small margin, never below 0.
void fit_y(Canvas* c, double lo, double hi) {
  const double pad = hi > lo ? 0.08 * (hi - lo) : 0.02;
  c->y0 = std::max(0.0, 100 * (lo - pad)), c->y1 = 100 * (hi + pad);
}

void legend(Canvas* c, const std::vector<std::string>& names) {
  double y = c->top + 4;
  for (size_t i = 0; i < names.size(); ++i, y += 17) {
    const double lx = c->plot_right() + 12;
    c->line(lx, y, lx + 18, y, fmt::format("stroke=\"{}\" stroke-width=\"2\"", color(i)));
    c->dot(lx + 9, y, color(i));
    c->text(lx + 23, y + 4, names[i], "font-size=\"11\"");
  }
}

}  // namespace

std::optional<double> axis_number(const nlohmann::ordered_json& v) {
  if (v.is_number()) return v.get<double>();
  return std::nullopt;
}

std::vector<std::string> numeric_axes(const SweepResults& r) {
  std::vector<std::string> out;
  for (const auto& k : r.axis_keys) {
    bool numeric = true;
    for (const auto& v : r.variants) {
      if (r.usable_runs(v).empty()) continue;  // a variant without results draws no point
      const auto axes = r.axes_of(v);
      numeric &= axes.contains(k) && axis_number(axes[k]).has_value();
    }
    if (numeric) out.push_back(k);
  }
  return out;
}

Chart axis_chart(const SweepResults& r, const std::string& key) {
  Canvas c;
  c.width = 760, c.height = std::max(340.0, c.top + 17.0 * double(r.metrics.size()) + c.bottom);
  size_t longest = 0;
  for (const auto& m : r.metrics) longest = std::max(longest, m.size());
  c.right = 34 + 6.8 * double(longest);
  // Points: (axis value, cell) per variant with results.
  std::vector<std::pair<double, std::string>> xs;
  for (const auto& v : r.variants)
    if (!r.usable_runs(v).empty()) xs.emplace_back(*axis_number(r.axes_of(v)[key]), v);
  std::sort(xs.begin(), xs.end());
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const auto& [x, v] : xs) {
    xlo = std::min(xlo, x), xhi = std::max(xhi, x);
    for (const auto& m : r.metrics) {
      const auto [lo, hi] = interval_of(r.cells.at(v).at(m));
      ylo = std::min(ylo, lo), yhi = std::max(yhi, hi);
    }
  }
  if (xs.empty()) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  const double xpad = xhi > xlo ? 0.05 * (xhi - xlo) : 0.5;
  c.x0 = xlo - xpad, c.x1 = xhi + xpad;
  fit_y(&c, ylo, yhi);
  const std::string title = "score vs " + key;
  c.axes(title, svg::detail::ticks_inside(c.x0, c.x1, 6), svg::detail::ticks_inside(c.y0, c.y1, 6), key, "score (%)",
         "%");
  const bool one_axis = r.axis_keys.size() == 1;  // a line through the points only when nothing else varies
  for (size_t mi = 0; mi < r.metrics.size(); ++mi) {
    const std::string col = color(mi);
    const double shift = (double(mi) - double(r.metrics.size() - 1) / 2) * 3;  // keeps error bars apart
    std::string poly;
    for (const auto& [x, v] : xs) {
      const Cell& cell = r.cells.at(v).at(r.metrics[mi]);
      if (cell.summary.n == 0) continue;
      auto [lo, hi] = interval_of(cell);
      lo = std::clamp(lo, c.y0 / 100, c.y1 / 100), hi = std::clamp(hi, c.y0 / 100, c.y1 / 100);  // inside the plot
      const double px = c.px(x) + shift;
      c.line(px, c.py(100 * lo), px, c.py(100 * hi), fmt::format("stroke=\"{}\" stroke-width=\"1.2\"", col));
      c.line(px - 3, c.py(100 * lo), px + 3, c.py(100 * lo), fmt::format("stroke=\"{}\"", col));
      c.line(px - 3, c.py(100 * hi), px + 3, c.py(100 * hi), fmt::format("stroke=\"{}\"", col));
      c.dot(px, c.py(100 * cell.summary.mean), col);
      poly += fmt::format("{:.1f},{:.1f} ", px, c.py(100 * cell.summary.mean));
    }
    if (one_axis && xs.size() >= 2 && !poly.empty()) {
      poly.pop_back();
      c.body += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n", col, poly);
    }
  }
  legend(&c, r.metrics);
  return {"charts/axis_" + file_part(key) + ".svg", c.svg(title)};
}

Chart variants_bar_chart(const SweepResults& r) {
  svg::BarChart b;
  b.title = "scores per variant (mean over seeds)";
  b.groups = r.metrics;
  for (const auto& v : r.variants) {
    if (r.usable_runs(v).empty()) continue;
    b.series.push_back(v);
    std::vector<std::optional<double>> row;
    for (const auto& m : r.metrics) {
      const Cell& cell = r.cells.at(v).at(m);
      row.push_back(cell.summary.n ? std::optional<double>(cell.summary.mean) : std::nullopt);
    }
    b.values.push_back(row);
  }
  b.reference.assign(r.metrics.size(), std::nullopt);
  return {"charts/variants.svg", svg::bar_chart(b)};
}

std::vector<std::string> pareto_front(const SweepResults& r, const std::string& a, const std::string& b) {
  std::vector<std::string> front;
  for (const auto& v : r.variants) {
    if (r.cells.at(v).at(a).summary.n == 0 || r.cells.at(v).at(b).summary.n == 0) continue;
    const double va = r.cells.at(v).at(a).summary.mean, vb = r.cells.at(v).at(b).summary.mean;
    bool dominated = false;
    for (const auto& w : r.variants) {
      if (w == v || r.cells.at(w).at(a).summary.n == 0 || r.cells.at(w).at(b).summary.n == 0) continue;
      const double wa = r.cells.at(w).at(a).summary.mean, wb = r.cells.at(w).at(b).summary.mean;
      dominated |= wa >= va && wb >= vb && (wa > va || wb > vb);
    }
    if (!dominated) front.push_back(v);
  }
  return front;
}

Chart pareto_chart(const SweepResults& r, const std::string& a, const std::string& b) {
  Canvas c;
  c.width = 560, c.height = 420, c.right = 30;
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  std::vector<std::pair<std::string, std::pair<double, double>>> pts;
  for (const auto& v : r.variants) {
    const Cell &ca = r.cells.at(v).at(a), &cb = r.cells.at(v).at(b);
    if (ca.summary.n == 0 || cb.summary.n == 0) continue;
    pts.push_back({v, {ca.summary.mean, cb.summary.mean}});
    xlo = std::min(xlo, ca.summary.mean), xhi = std::max(xhi, ca.summary.mean);
    ylo = std::min(ylo, cb.summary.mean), yhi = std::max(yhi, cb.summary.mean);
  }
  if (pts.empty()) xlo = ylo = 0, xhi = yhi = 1;
  const double xpad = xhi > xlo ? 0.1 * (xhi - xlo) : 0.02;
  c.x0 = std::max(0.0, 100 * (xlo - xpad)), c.x1 = 100 * (xhi + xpad);
  fit_y(&c, ylo, yhi);
  const std::string title = fmt::format("trade-off: {} vs {} (Pareto frontier)", b, a);
  c.axes(title, svg::detail::ticks_inside(c.x0, c.x1, 5), svg::detail::ticks_inside(c.y0, c.y1, 6), a + " (%)",
         b + " (%)", "%");
  const auto front = pareto_front(r, a, b);
  std::vector<std::pair<double, double>> fp;
  for (const auto& [v, xy] : pts)
    if (std::find(front.begin(), front.end(), v) != front.end()) fp.push_back(xy);
  std::sort(fp.begin(), fp.end());
  if (fp.size() >= 2) {
    std::string poly;
    for (const auto& [x, y] : fp) poly += fmt::format("{:.1f},{:.1f} ", c.px(100 * x), c.py(100 * y));
    poly.pop_back();
    c.body += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\" "
        "points=\"{}\"/>\n",
        color(3), poly);
  }
  for (const auto& [v, xy] : pts) {
    const bool on = std::find(front.begin(), front.end(), v) != front.end();
    c.dot(c.px(100 * xy.first), c.py(100 * xy.second), on ? color(3) : "#999", on ? 4.5 : 3);
    c.text(c.px(100 * xy.first) + 6, c.py(100 * xy.second) - 5, v.size() > 28 ? v.substr(0, 27) + "~" : v,
           fmt::format("font-size=\"10\" fill=\"{}\"", on ? "#222" : "#777"));
  }
  return {"charts/pareto_" + file_part(a) + "_" + file_part(b) + ".svg", c.svg(title)};
}

std::pair<std::string, std::string> default_pareto_pair(const SweepResults& r) {
  std::vector<std::string> cats;
  for (const auto& m : r.metrics)
    if (m != kMMBase) cats.push_back(m);
  if (cats.size() < 2) return {};
  std::pair<std::string, std::string> best{cats[0], cats[1]};
  double best_corr = INFINITY;
  for (size_t i = 0; i < cats.size(); ++i)
    for (size_t j = i + 1; j < cats.size(); ++j) {
      std::vector<std::pair<double, double>> xy;
      for (const auto& v : r.variants) {
        const Cell &ca = r.cells.at(v).at(cats[i]), &cb = r.cells.at(v).at(cats[j]);
        if (ca.summary.n && cb.summary.n) xy.emplace_back(ca.summary.mean, cb.summary.mean);
      }
      if (xy.size() < 3) continue;
      double mx = 0, my = 0;
      for (const auto& [x, y] : xy) mx += x / double(xy.size()), my += y / double(xy.size());
      double sxy = 0, sxx = 0, syy = 0;
      for (const auto& [x, y] : xy) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx), syy += (y - my) * (y - my);
      if (sxx <= 0 || syy <= 0) continue;
      const double corr = sxy / std::sqrt(sxx * syy);
      if (corr < best_corr) best_corr = corr, best = {cats[i], cats[j]};
    }
  return best;
}

}  // namespace mm::eval::ablation
