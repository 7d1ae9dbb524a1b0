// Internal to eval/run_report/: the canvas the SVG charts draw on (svg_chart.cpp, svg_bar_chart.cpp):
// maps data to pixels, draws axes with ticks, a title and a legend.
#pragma once
#include <fmt/format.h>

#include <string>
#include <vector>

#include "eval/run_report/svg_chart.h"

namespace mm::eval::svg::detail {

const char* color(size_t i);  // a palette of 10 colours, repeating

// A plot area inside margins, data ranges [x0, x1] x [y0, y1].
struct Canvas {
  double width = 760, height = 340, left = 70, right = 20, top = 56, bottom = 50;
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
  void dot(double x, double y, const std::string& fill, double r = 3) {
    body += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\" fill=\"{}\"/>\n", x, y, r, fill);
  }
  // The title (bold, top left), horizontal grid lines and labels at y_ticks, x ticks and labels at
  // x_ticks (none if empty), the two axis lines (ending at the plot's edges) and their titles.
  void axes(const std::string& title, const std::vector<double>& x_ticks, const std::vector<double>& y_ticks,
            const std::string& x_title, const std::string& y_title, const std::string& y_suffix = "") {
    text(left, 20, title, "font-size=\"14\" font-weight=\"bold\"");
    const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
    const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
    for (double t : y_ticks) {
      line(left, py(t), plot_right(), py(t), "stroke=\"#e6e6e6\"");
      text(left - 6, py(t) + 4, tick_label(t, y_step) + y_suffix, "text-anchor=\"end\" font-size=\"11\"");
    }
    for (double t : x_ticks) {
      line(px(t), plot_bottom(), px(t), plot_bottom() + 5, "stroke=\"#333\"");
      text(px(t), plot_bottom() + 18, tick_label(t, x_step), "text-anchor=\"middle\" font-size=\"11\"");
    }
    line(left, plot_bottom(), plot_right(), plot_bottom(), "stroke=\"#333\"");
    line(left, top, left, plot_bottom(), "stroke=\"#333\"");
    text((left + plot_right()) / 2, height - 10, x_title, "text-anchor=\"middle\" font-size=\"12\"");
    const double mid = (top + plot_bottom()) / 2;
    text(16, mid, y_title,
         fmt::format("text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 {:.1f})\"", mid));
  }
  std::string svg(const std::string& title) const {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"sans-serif\">\n<title>{2}</title>\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
        "{3}</svg>\n",
        width, height, xml_escape(title), body);
  }
};

// Ticks of nice_ticks(lo, hi, target) that lie inside [lo, hi] (the axis ends where the data does).
std::vector<double> ticks_inside(double lo, double hi, int target);

}  // namespace mm::eval::svg::detail
