// The report of a whole training run (`mmtrain report`): reads a run directory written by
// `mmtrain train` (per stage: metrics.jsonl, eval/step_NNNNNN.json, config.yaml; optionally
// baseline/eval/step_000000.json, an eval before training, and demo_time.txt, the measured wall
// time in seconds) and writes report.md, report.html, loss.svg and scores.svg:
//  - a table rows = init (when present) + each stage's last eval, columns = categories + MMBase,
//    with a "chance" row (the majority-answer baseline of eval/chance.h, computed from the
//    stages' eval sets; the eval JSON's own "chance" when those files cannot be read);
//  - per stage: steps, first and last training loss, tokens seen; the wall time;
//  - example predictions of the final stage; the two charts (eval/run_report/svg_chart.h).
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/chance.h"

namespace mm::eval {

// One eval report JSON (eval/eval_report.h's report_to_json), or an eval record of metrics.jsonl.
struct StageEval {
  std::string path;  // the JSON file, or "metrics.jsonl" when read from an eval record
  int64_t step = 0;
  std::map<std::string, double> categories;
  std::optional<double> mmbase;
  std::map<std::string, double> chance;                   // the report's own chance levels
  std::vector<std::pair<std::string, std::string>> sets;  // eval-set files read and their hashes (path, hash)
  nlohmann::json benchmarks = nlohmann::json::object();
  nlohmann::json examples = nlohmann::json::object();  // benchmark -> [{id, question, prediction, answers, score}]
};

struct StageRun {
  std::string name;
  std::vector<std::pair<int64_t, double>> loss;  // (step, loss) of the training records, in order
  int64_t steps = 0;                             // the last step logged
  std::optional<int64_t> tokens;                 // tokens_seen of the last training record
  std::optional<StageEval> eval;                 // the last eval (highest step)
};

struct RunSummary {
  std::string run_dir;
  std::optional<StageEval> init;  // baseline/eval/, the model before training
  std::vector<StageRun> stages;   // in run order
  ChanceLevels chance;
  std::string chance_source;  // one line: where the chance levels come from
  std::optional<double> wall_seconds;
  std::vector<std::string> notes;  // stages named but not found, unreadable lines, ...
};

// The folders of `run_dir` that hold a metrics.jsonl, oldest metrics file first (run order).
std::vector<std::string> discover_stages(const std::string& run_dir);

// Reads a run. `stage_names` in run order (a recipe's); empty -> discover_stages. A named stage
// without a folder becomes a note; a run with no stage at all throws mm::Error.
RunSummary read_run(const std::string& run_dir, std::vector<std::string> stage_names = {});

// Markdown tables: scores (rows init, stages, chance; in %) and training (steps, losses, tokens).
std::string scores_table_markdown(const RunSummary& run);
std::string training_table_markdown(const RunSummary& run);

std::string run_report_markdown(const RunSummary& run);  // links loss.svg and scores.svg
std::string run_report_html(const RunSummary& run);      // self-contained, SVGs inlined
std::string loss_svg(const RunSummary& run);
std::string scores_svg(const RunSummary& run);

struct WrittenReport {
  std::string markdown, html, loss_svg, scores_svg;  // paths
};
// Writes report.md, report.html, loss.svg and scores.svg into `out_dir` (created), atomically.
WrittenReport write_run_report(const RunSummary& run, const std::string& out_dir);

// m[key] when present (a category or benchmark score), else nullopt.
std::optional<double> score_of(const std::map<std::string, double>& m, const std::string& key);

}  // namespace mm::eval
