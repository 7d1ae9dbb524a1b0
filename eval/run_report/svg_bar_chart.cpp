// The grouped bar chart of svg_chart.h (category scores per stage against the chance level).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "eval/run_report/svg_canvas.h"
#include "eval/run_report/svg_chart.h"

namespace mm::eval::svg {

using detail::Canvas;
using detail::color;

std::string bar_chart(const BarChart& chart) {
  Canvas c;
  // The legend first (rows of entries under the title): it sets where the plot starts.
  struct Entry {
    double x, y;
    std::string name;
    int series;  // -1: the chance sample
  };
  std::vector<Entry> legend;
  double lx = c.left, ly = 38;
  auto place = [&](const std::string& name, int series, double w) {
    if (lx + w > c.width - 10 && lx > c.left) lx = c.left, ly += 17;
    legend.push_back({lx, ly, name, series});
    lx += w;
  };
  for (size_t s = 0; s < chart.series.size(); ++s)
    place(chart.series[s], static_cast<int>(s), 30 + 6.8 * chart.series[s].size());
  bool any_reference = false;
  for (const auto& r : chart.reference) any_reference |= r.has_value();
  if (any_reference) place("chance (majority-answer baseline)", -1, 260);
  c.top = ly + 26;
  c.height += ly - 38;

  double hi = 0;  // the axis ends just above the highest value or reference
  for (const auto& row : chart.values)
    for (const auto& v : row)
      if (v && std::isfinite(*v)) hi = std::max(hi, 100 * std::clamp(*v, 0.0, 1.0));
  for (const auto& r : chart.reference)
    if (r && std::isfinite(*r)) hi = std::max(hi, 100 * std::clamp(*r, 0.0, 1.0));
  c.y0 = 0, c.y1 = std::min(100.0, std::max(1.0, hi * 1.08));
  c.axes(chart.title, {}, detail::ticks_inside(0, c.y1, 5), chart.x_label, chart.y_label, "%");

  const size_t groups = std::max<size_t>(1, chart.groups.size()), series = std::max<size_t>(1, chart.series.size());
  const double group_w = (c.plot_right() - c.left) / groups, bar_w = group_w * 0.8 / series;
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    const double gx = c.left + g * group_w + group_w * 0.1;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const auto& v = s < chart.values.size() && g < chart.values[s].size() ? chart.values[s][g] : std::nullopt;
      if (!v || !std::isfinite(*v)) continue;
      const double pct = 100 * std::clamp(*v, 0.0, 1.0), top = c.py(pct), h = c.plot_bottom() - top;
      const double cx = gx + (s + 0.46) * bar_w;
      if (h >= 0.5) c.rect(gx + s * bar_w, top, bar_w * 0.92, h, color(s));
      if (bar_w >= 14 || h < 0.5)  // a bar too low to see still says its value
        c.text(cx, std::min(top, c.plot_bottom()) - 3, fmt::format("{:.0f}", pct),
               fmt::format("text-anchor=\"middle\" font-size=\"9\" fill=\"{}\"", h >= 0.5 ? "#000" : color(s)));
    }
    if (g < chart.reference.size() && chart.reference[g] && std::isfinite(*chart.reference[g])) {
      const double y = c.py(100 * std::clamp(*chart.reference[g], 0.0, 1.0));
      c.line(gx - 4, y, gx + group_w * 0.8 + 4, y, "stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"");
    }
    c.text(gx + group_w * 0.4, c.plot_bottom() + 18, chart.groups[g], "text-anchor=\"middle\" font-size=\"12\"");
  }
  for (const auto& e : legend) {
    if (e.series >= 0) {
      c.rect(e.x, e.y - 10, 12, 12, color(static_cast<size_t>(e.series)));
      c.text(e.x + 16, e.y, e.name, "font-size=\"12\"");
    } else {
      c.line(e.x, e.y - 4, e.x + 24, e.y - 4, "stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"");
      c.text(e.x + 28, e.y, e.name, "font-size=\"12\"");
    }
  }
  return c.svg(chart.title);
}

}  // namespace mm::eval::svg
