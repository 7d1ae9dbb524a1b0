// The charts of the run report as hand-written SVG (no dependencies, no scripts): line charts over
// the optimizer steps of a run (stage boundaries marked, a marker for a lone point) and grouped
// bars. Each returns one standalone <svg> element (with xmlns) that a browser shows as a file or
// inlined in HTML. Every chart has a title, axis labels, and axes that end where the data does.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mm::eval::svg {

// Tick values covering [lo, hi] at a "nice" step (1, 2 or 5 x 10^k), about `target` of them; the
// first tick <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// A tick label for `v` on an axis whose ticks are `step` apart: as many decimals as the step needs
// (0.0015 at a step of 0.0005, 250 at a step of 50), no trailing zeros.
std::string tick_label(double v, double step);

// Escapes & < > " for XML text and attributes.
std::string xml_escape(const std::string& text);

struct LineSeries {
  std::string name;                               // legend entry ("" = none)
  std::vector<std::pair<double, double>> points;  // (x, y) in x order; non-finite ones are dropped
  int color = -1;                                 // palette index; -1 = the series' position
  bool markers = false;                           // a dot at every point (a lone point always gets one)
  bool dashed = false;
};

struct StageSpan {
  std::string name;
  double start = 0, end = 0;  // on the x axis
  int color = -1;             // the name's palette index; -1 = grey
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
  std::vector<StageSpan> stages;  // each name above the plot, a dashed separator where a stage starts
  std::optional<double> y_floor;  // the y axis starts at most here (0 for scores), else at the lowest value
  double y_scale = 1;             // values are multiplied by it (100: fractions shown in %)
  std::string y_suffix;           // after each y tick label ("%")
  bool legend = true;             // a legend right of the plot for the named series
  double width = 760, height = 320;
};

// One <polyline> per series with two or more points, a <circle> per point for a series with one
// point or with markers. The x axis spans the stages and the data, the y axis the data (and
// y_floor) with a small margin, ticks only inside.
std::string line_chart(const LineChart& chart);

struct LossStage {
  std::string name;
  double start = 0, end = 0;                      // the stage's span on the cumulative step axis
  std::vector<std::pair<double, double>> points;  // (cumulative step, loss)
};

// Loss vs cumulative step: one line per stage (a dot for a stage with one point, nothing for a
// stage with none), stage boundaries as in line_chart.
std::string loss_chart(const std::vector<LossStage>& stages);

struct BarChart {
  std::string title = "category scores per stage", x_label = "category", y_label = "score (%)";
  std::vector<std::string> groups;                         // x groups (categories)
  std::vector<std::string> series;                         // bars per group (stages), legend order
  std::vector<std::vector<std::optional<double>>> values;  // [series][group], fractions in [0, 1]
  std::vector<std::optional<double>> reference;            // [group]: the chance level (dashed line)
};

// Grouped bars on a % axis from 0 to just above the highest value or reference, with a legend; the
// reference of a group is a dashed line across it. A value too small to draw a bar for is written
// as its number on the baseline (no zero-height rectangles); a missing one is left out.
std::string bar_chart(const BarChart& chart);

}  // namespace mm::eval::svg
