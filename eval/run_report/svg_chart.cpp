// The SVG line charts (svg_chart.h) and the helpers the charts share; the bar chart is in
// svg_bar_chart.cpp, the canvas in svg_canvas.h.
#include "eval/run_report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/run_report/svg_canvas.h"

namespace mm::eval::svg {
namespace detail {

const char* color(size_t i) {
  static constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                             "#b07aa1", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"};
  return kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

std::vector<double> ticks_inside(double lo, double hi, int target) {
  std::vector<double> out;
  const double eps = 1e-9 * std::max(1.0, std::fabs(hi - lo));
  for (double t : nice_ticks(lo, hi, target))
    if (t >= lo - eps && t <= hi + eps) out.push_back(t);
  return out;
}

}  // namespace detail

using detail::Canvas;
using detail::color;

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; ticks.empty() || ticks.back() < hi - 1e-9 * step; t += step)
    ticks.push_back(std::fabs(t) < 1e-9 * step ? 0.0 : t);
  return ticks;
}

std::string tick_label(double v, double step) {
  if (std::fabs(v) < 1e-12 * std::max(1.0, std::fabs(step))) return "0";
  const int decimals = step > 0 && step < 1 ? std::min(12, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))) : 0;
  std::string s = fmt::format("{:.{}f}", v, std::max(decimals, 0) + 1);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart(const LineChart& chart) {
  Canvas c;
  c.width = chart.width, c.height = chart.height;
  // The data, scaled, without non-finite points.
  std::vector<std::vector<std::pair<double, double>>> pts(chart.series.size());
  double xlo = INFINITY, xhi = -INFINITY, lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < chart.series.size(); ++i)
    for (const auto& [x, y] : chart.series[i].points) {
      const double v = y * chart.y_scale;
      if (!std::isfinite(x) || !std::isfinite(v)) continue;
      pts[i].emplace_back(x, v);
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), lo = std::min(lo, v), hi = std::max(hi, v);
    }
  const bool empty = !std::isfinite(lo);
  for (const auto& s : chart.stages) xlo = std::min(xlo, s.start), xhi = std::max({xhi, s.end, s.start});
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1;
  if (!(xhi > xlo)) xhi = xlo + 1;
  if (empty) lo = 0, hi = 1;
  const bool floored = chart.y_floor && *chart.y_floor * chart.y_scale <= lo;
  if (floored) lo = *chart.y_floor * chart.y_scale;
  const double pad = hi > lo ? 0.06 * (hi - lo) : (std::fabs(hi) > 0 ? 0.1 * std::fabs(hi) : 1.0);
  c.x0 = xlo, c.x1 = xhi, c.y0 = floored ? lo : lo - pad, c.y1 = hi + pad;
  if (lo >= 0 && c.y0 < 0) c.y0 = 0;  // data that is never negative gets no negative axis

  size_t named = 0, longest = 0;
  for (const auto& s : chart.series)
    if (!s.name.empty()) ++named, longest = std::max(longest, s.name.size());
  const bool legend = chart.legend && named > 0;
  if (legend) {
    c.right = std::min(260.0, 34 + 6.8 * longest);
    c.height = std::max(c.height, c.top + 17.0 * named + c.bottom);
  }
  const double x_target = std::max(2.0, (c.plot_right() - c.left) / 70);
  const double y_target = std::max(2.0, (c.plot_bottom() - c.top) / 28);
  c.axes(chart.title, detail::ticks_inside(c.x0, c.x1, static_cast<int>(x_target)),
         detail::ticks_inside(c.y0, c.y1, static_cast<int>(y_target)), chart.x_label, chart.y_label, chart.y_suffix);

  // Stage names above the plot (a second row when one would overlap the previous), separators.
  double row_end[2] = {-INFINITY, -INFINITY};
  for (size_t i = 0; i < chart.stages.size(); ++i) {
    const auto& s = chart.stages[i];
    const double x = c.px(s.start);
    if (s.start > c.x0 + 1e-9 * (c.x1 - c.x0))
      c.line(x, c.top, x, c.plot_bottom(), "stroke=\"#888\" stroke-dasharray=\"4 3\"");
    const int row = x + 3 < row_end[0] ? 1 : 0;
    c.text(x + 3, c.top - 6 - 13 * row, s.name,
           fmt::format("font-size=\"11\" fill=\"{}\"", s.color >= 0 ? color(static_cast<size_t>(s.color)) : "#555"));
    row_end[row] = x + 3 + 6.5 * s.name.size() + 6;
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const auto& s = chart.series[i];
    const std::string col = color(s.color >= 0 ? static_cast<size_t>(s.color) : i);
    if (pts[i].size() >= 2) {
      std::string p;
      for (const auto& [x, y] : pts[i]) p += fmt::format("{:.1f},{:.1f} ", c.px(x), c.py(y));
      p.pop_back();
      c.body += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{} points=\"{}\"/>\n", col,
                            s.dashed ? " stroke-dasharray=\"5 3\"" : "", p);
    }
    if (pts[i].size() == 1 || s.markers)
      for (const auto& [x, y] : pts[i]) c.dot(c.px(x), c.py(y), col);
  }
  if (empty)
    c.text((c.left + c.plot_right()) / 2, (c.top + c.plot_bottom()) / 2, "nothing logged",
           "text-anchor=\"middle\" font-size=\"13\" fill=\"#888\"");
  if (legend) {
    double y = c.top + 4;
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const auto& s = chart.series[i];
      if (s.name.empty()) continue;
      const std::string col = color(s.color >= 0 ? static_cast<size_t>(s.color) : i);
      const double lx = c.plot_right() + 12;
      c.line(lx, y, lx + 18, y,
             fmt::format("stroke=\"{}\" stroke-width=\"2\"{}", col, s.dashed ? " stroke-dasharray=\"5 3\"" : ""));
      if (s.markers) c.dot(lx + 9, y, col);
      c.text(lx + 23, y + 4, s.name, "font-size=\"11\"");
      y += 17;
    }
  }
  return c.svg(chart.title);
}

std::string loss_chart(const std::vector<LossStage>& stages) {
  LineChart chart;
  chart.title = "training loss per stage";
  chart.x_label = "optimizer step (cumulative over the stages)";
  chart.y_label = "training loss";
  chart.legend = false;  // the stage names above the plot say which line is which
  for (size_t i = 0; i < stages.size(); ++i) {
    chart.stages.push_back({stages[i].name, stages[i].start, stages[i].end, static_cast<int>(i)});
    chart.series.push_back({"", stages[i].points, static_cast<int>(i), false, false});
  }
  return line_chart(chart);
}

}  // namespace mm::eval::svg
