// The two charts of the run report as hand-written SVG (no dependencies): training loss over the
// stages of a run, and category scores per stage as grouped bars with the chance level marked.
// Each returns one standalone <svg> element (with xmlns) that a browser shows as a file or inlined
// in HTML.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mm::eval::svg {

// Tick values covering [lo, hi] at a "nice" step (1, 2 or 5 x 10^k), about `target` of them; the
// first tick <= lo and the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// Escapes & < > " for XML text and attributes.
std::string xml_escape(const std::string& text);

struct LossStage {
  std::string name;
  double start = 0, end = 0;                      // the stage's span on the cumulative step axis
  std::vector<std::pair<double, double>> points;  // (cumulative step, loss)
};

// Loss vs cumulative step: one <polyline> per stage (a dot for a stage with one point, nothing for
// a stage with none), a dashed vertical separator at each stage boundary with the stage's name,
// axes with ticks and labels.
std::string loss_chart(const std::vector<LossStage>& stages);

struct BarChart {
  std::vector<std::string> groups;                         // x groups (categories)
  std::vector<std::string> series;                         // bars per group (stages), legend order
  std::vector<std::vector<std::optional<double>>> values;  // [series][group], fractions in [0, 1]
  std::vector<std::optional<double>> reference;            // [group]: the chance level (dashed line)
};

// Grouped bars on a 0..100% axis with a legend; the reference of a group is a dashed line across it.
std::string bar_chart(const BarChart& chart);

}  // namespace mm::eval::svg
