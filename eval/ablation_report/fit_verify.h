// What `ablate verify` asks: the mixture `ablate fit` proposed (DIR/fit.json: the weights and, per metric, the
// predicted score with its 95% interval for one new run) against what the `verify` variant measured (every seed's
// final eval). Shown by `ablate verify` when it has trained and by `ablate report` (docs/ablations.md).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/ablation_report/mixture_fit.h"
#include "eval/ablation_report/sweep_results.h"

namespace mm::eval::report {
struct Block;
}

namespace mm::eval::ablation {

inline constexpr const char* kVerifyVariant = "verify";

struct VerifyRow {
  std::string metric;
  Prediction predicted;          // fit.json's, fractions
  std::vector<double> measured;  // one per usable verify seed (seed order)
  double mean = 0;               // of `measured`
  int inside = 0;                // seeds whose score lies in [lo, hi]
};

struct VerifyCheck {
  std::vector<VerifyRow> rows;  // SweepResults::metrics order, the metrics fit.json predicts
  std::string objective;
  int seeds = 0;
  // Non-empty when the verify runs trained other axis values than fit.json's weights (verify --set ...): then
  // the prediction is not theirs, and `rows` is empty.
  std::string mismatch;
};

// The comparison, or nothing when DIR/fit.json is absent or the sweep has no verify run with results. Throws
// mm::Error (one line) for a fit.json that is not JSON or lacks "weights"/"predicted".
std::optional<VerifyCheck> load_verify_check(const SweepResults& r);

// The report's section (a heading, the table, a note) and the same as Markdown (what `ablate verify` prints).
std::vector<report::Block> verify_blocks(const VerifyCheck& c);
std::string verify_markdown(const VerifyCheck& c);

}  // namespace mm::eval::ablation
