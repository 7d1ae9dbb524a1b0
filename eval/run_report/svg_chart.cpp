// The SVG charts (svg_chart.h): a tiny canvas that maps data to pixels and draws axes with ticks.
#include "eval/run_report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mm::eval::svg {
namespace {

constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                    "#76b7b2", "#b07aa1", "#edc948", "#9c755f"};
const char* color(size_t i) { return kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))]; }

// A tick label without trailing zeros: 0.5, 2, 1500, 1.25.
std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) return "0";
  std::string s = fmt::format("{:.4f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// A plot area of width x height pixels inside margins, data ranges [x0, x1] x [y0, y1].
struct Canvas {
  double width = 760, height = 380, left = 64, right = 20, top = 44, bottom = 52;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  std::string body;

  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
  double plot_bottom() const { return height - bottom; }
  double plot_right() const { return width - right; }

  void line(double xa, double ya, double xb, double yb, const std::string& style) {
    body += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" {}/>\n", xa, ya, xb, yb, style);
  }
  void text(double x, double y, const std::string& s, const std::string& style) {
    body += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" {}>{}</text>\n", x, y, style, xml_escape(s));
  }
  void rect(double x, double y, double w, double h, const std::string& fill) {
    body += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x, y, w,
                        h, fill);
  }
  // Axes: horizontal grid lines and labels at y_ticks, x ticks at x_ticks (none if empty), titles.
  void axes(const std::vector<double>& x_ticks, const std::vector<double>& y_ticks, const std::string& x_title,
            const std::string& y_title, const std::string& y_suffix = "") {
    for (double t : y_ticks) {
      line(left, py(t), plot_right(), py(t), "stroke=\"#e0e0e0\"");
      text(left - 6, py(t) + 4, tick_label(t) + y_suffix, "text-anchor=\"end\" font-size=\"11\"");
    }
    for (double t : x_ticks) {
      line(px(t), plot_bottom(), px(t), plot_bottom() + 5, "stroke=\"#333\"");
      text(px(t), plot_bottom() + 18, tick_label(t), "text-anchor=\"middle\" font-size=\"11\"");
    }
    line(left, plot_bottom(), plot_right(), plot_bottom(), "stroke=\"#333\"");
    line(left, top, left, plot_bottom(), "stroke=\"#333\"");
    text((left + plot_right()) / 2, height - 10, x_title, "text-anchor=\"middle\" font-size=\"12\"");
    text(14, (top + plot_bottom()) / 2, y_title,
         fmt::format("text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 {:.1f})\"",
                     (top + plot_bottom()) / 2));
  }
  std::string svg(const std::string& title) const {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"sans-serif\">\n<title>{2}</title>\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
        "{3}</svg>\n",
        width, height, xml_escape(title), body);
  }
};

}  // namespace

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

std::string loss_chart(const std::vector<LossStage>& stages) {
  Canvas c;
  double lo = INFINITY, hi = -INFINITY, x_end = 0;
  for (const auto& s : stages) {
    x_end = std::max({x_end, s.end, s.start});
    for (const auto& [x, y] : s.points) lo = std::min(lo, y), hi = std::max(hi, y), x_end = std::max(x_end, x);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  const auto y_ticks = nice_ticks(lo, hi);
  const auto x_ticks = nice_ticks(0, std::max(1.0, x_end), 8);
  c.y0 = y_ticks.front(), c.y1 = y_ticks.back(), c.x0 = 0, c.x1 = x_ticks.back();
  c.axes(x_ticks, y_ticks, "optimizer step (cumulative over the stages)", "training loss");
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    if (i > 0) c.line(c.px(s.start), c.top, c.px(s.start), c.plot_bottom(), "stroke=\"#888\" stroke-dasharray=\"4 3\"");
    c.text(c.px(s.start) + 4, c.top - 6, s.name, fmt::format("font-size=\"12\" fill=\"{}\"", color(i)));
    if (s.points.empty()) continue;
    if (s.points.size() == 1) {  // a polyline of one point draws nothing: a dot instead
      c.body += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", c.px(s.points[0].first),
                            c.py(s.points[0].second), color(i));
      continue;
    }
    std::string pts;
    for (const auto& [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", c.px(x), c.py(y));
    pts.pop_back();
    c.body +=
        fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n", color(i), pts);
  }
  return c.svg("training loss per stage");
}

std::string bar_chart(const BarChart& chart) {
  Canvas c;
  c.top = 56;
  const auto y_ticks = nice_ticks(0, 100, 5);
  c.y0 = 0, c.y1 = 100;
  c.axes({}, y_ticks, "category", "score", "%");
  const size_t groups = std::max<size_t>(1, chart.groups.size()), series = std::max<size_t>(1, chart.series.size());
  const double group_w = (c.plot_right() - c.left) / groups, bar_w = group_w * 0.8 / series;
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    const double gx = c.left + g * group_w + group_w * 0.1;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const auto& v = g < chart.values[s].size() ? chart.values[s][g] : std::nullopt;
      if (!v) continue;
      const double top = c.py(100 * std::clamp(*v, 0.0, 1.0));
      c.rect(gx + s * bar_w, top, bar_w * 0.92, c.plot_bottom() - top, color(s));
      if (bar_w >= 18)
        c.text(gx + (s + 0.46) * bar_w, top - 3, fmt::format("{:.0f}", 100 * *v),
               "text-anchor=\"middle\" font-size=\"9\"");
    }
    if (g < chart.reference.size() && chart.reference[g]) {
      const double y = c.py(100 * *chart.reference[g]);
      c.line(gx - 4, y, gx + group_w * 0.8 + 4, y, "stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"");
    }
    c.text(gx + group_w * 0.4, c.plot_bottom() + 18, chart.groups[g], "text-anchor=\"middle\" font-size=\"12\"");
  }
  double lx = c.left;  // legend, one row above the plot
  for (size_t s = 0; s < chart.series.size(); ++s) {
    c.rect(lx, 14, 12, 12, color(s));
    c.text(lx + 16, 24, chart.series[s], "font-size=\"12\"");
    lx += 28 + 7.0 * chart.series[s].size();
  }
  c.line(lx, 20, lx + 24, 20, "stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"");
  c.text(lx + 28, 24, "chance (majority-answer baseline)", "font-size=\"12\"");
  return c.svg("category scores per stage");
}

}  // namespace mm::eval::svg
