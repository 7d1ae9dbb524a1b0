// The report of a whole training run (`mmtrain report`): reads a run directory written by
// `mmtrain train` (per stage: metrics.jsonl, eval/step_NNNNNN.json, config.yaml, checkpoints/,
// tb/events.out.tfevents.*; train.log; optionally baseline/eval/step_000000.json, an eval before
// training, demo_time.txt, the measured wall time in seconds, run_history.jsonl, recipe.yaml and
// export/) and writes report.md, report.html (self-contained: inline SVG, no scripts) and its charts
// as SVG files:
//  - the run: model and sizes, per-stage settings, commit, date, machine, wall time per stage, links
//    to the configs, checkpoints and export folder, the TensorBoard command;
//  - scores per category: each stage's last eval and the chance row (the majority-answer baseline
//    of eval/chance.h), and every evaluation of every stage over the global step;
//  - per benchmark: items, score and its 95% Wilson interval; text perplexity and held-out loss;
//  - training: loss, loss per source, learning rate, gradient norm and tokens/s over the steps;
//  - example predictions of the final stage, with their images.
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

using Series = std::vector<std::pair<int64_t, double>>;  // (step within the stage, value), in log order

// One eval report JSON (eval/eval_report.h's report_to_json), or an eval record of metrics.jsonl.
struct StageEval {
  std::string path;  // the JSON file, or "metrics.jsonl" when read from an eval record
  int64_t step = 0;
  std::map<std::string, double> categories;
  std::optional<double> mmbase;
  std::map<std::string, double> chance;                   // the report's own chance levels
  std::vector<std::pair<std::string, std::string>> sets;  // eval-set files read and their hashes (path, hash)
  nlohmann::json benchmarks = nlohmann::json::object();   // name -> {score, n, metric, category, chance?}
  // benchmark -> [{id, question, prediction, answers, score, images?}]; images are the item's paths as
  // evaluated (relative ones from the working directory)
  nlohmann::json examples = nlohmann::json::object();
};

// What the run directory records about a stage besides its metrics (run_meta_read.cpp).
struct StageMeta {
  std::string config_path;                                   // STAGE/config.yaml, "" when absent
  nlohmann::ordered_json config = nlohmann::ordered_json();  // its content (scalars as strings); null when absent
  std::string log_line;                        // train.log: "stage 'NAME': N steps x ... on cpu" (the last one)
  std::optional<double> started;               // unix seconds: the first TensorBoard event of the stage
  std::optional<double> wall_seconds;          // per TensorBoard file, last event - first event, summed
  std::optional<double> history_wall_seconds;  // run_history.jsonl: the stage_end records' wall_s, summed
  std::string hostname;                        // from the TensorBoard file name (events.out.tfevents.SECONDS.HOST)
  std::vector<std::string> checkpoints;        // STAGE/checkpoints/step_* folders, by step
};

struct StageRun {
  std::string name;
  Series loss;                                   // training loss of every training record
  Series lr, grad_norm, tokens_per_s;            // the same records' lr, grad_norm, tokens_per_s
  std::map<std::string, Series> loss_by_source;  // source -> its loss in the records that had it
  std::map<std::string, Series> heldout_loss;    // source -> the held-out loss records
  int64_t steps = 0;                             // the last step logged
  std::optional<int64_t> tokens;                 // tokens_seen of the last training record
  std::optional<StageEval> eval;                 // the last eval (highest step)
  // Every evaluation by step: the eval JSONs, and eval records of metrics.jsonl at steps without one.
  std::vector<StageEval> evals;
  StageMeta meta;
};

struct RunSummary {
  std::string run_dir;
  std::string recipe_path;        // the recipe given to `mmtrain report --config` ("" when none)
  std::optional<StageEval> init;  // baseline/eval/, the model before training
  std::vector<StageRun> stages;   // in run order
  ChanceLevels chance;
  std::string chance_source;  // one line: where the chance levels come from
  std::optional<double> wall_seconds;
  std::string export_dir;   // RUN_DIR/export when it exists
  std::string recipe_yaml;  // RUN_DIR/recipe.yaml (the resolved recipe training wrote) when it exists
  // RUN_DIR/run_history.jsonl (written by mmtrain train): {"event": "start", "time", "host", "cpus",
  // "commit", "version", "command", ...} per session and {"event": "stage_end", "stage", "wall_s", ...}
  // per stage end, in file order; empty for a run trained before the file existed.
  std::vector<nlohmann::json> history;
  std::string examples_images_from;  // "" or where example images came from when the eval JSON had none
  std::vector<std::string> notes;    // stages named but not found, unreadable lines, ...
};

// The folders of `run_dir` that hold a metrics.jsonl, oldest metrics file first (run order).
std::vector<std::string> discover_stages(const std::string& run_dir);

// Reads a run. `stage_names` in run order (a recipe's); empty -> discover_stages. A named stage
// without a folder becomes a note; a run with no stage at all throws mm::Error.
RunSummary read_run(const std::string& run_dir, std::vector<std::string> stage_names = {});

// Fills each stage's meta (config, train.log line, TensorBoard times, checkpoints), the run
// history, recipe.yaml and export folder, and the images of example predictions whose eval JSON
// predates them (from the eval sets, when they still hash as evaluated). read_run calls it.
void read_run_meta(RunSummary* run);

// The 95% Wilson score interval of a proportion p observed over n items (z = 1.96); [0, 1] for n = 0.
struct Interval {
  double lo = 0, hi = 1;
};
Interval wilson_interval(double p, int64_t n, double z = 1.959963984540054);

// Where each stage starts on the global step axis: the sum of the earlier stages' steps.
std::vector<int64_t> stage_offsets(const RunSummary& run);

// Markdown tables: scores (rows init, stages, chance; in %), training (steps, losses, tokens), every
// evaluation over the global step, and the final evaluation per benchmark with 95% intervals.
std::string scores_table_markdown(const RunSummary& run);
std::string training_table_markdown(const RunSummary& run);
std::string scores_over_steps_markdown(const RunSummary& run);
std::string benchmarks_table_markdown(const RunSummary& run);

// The report. `out_dir` is where the report file goes: links and images are relative to it
// ("" = the run directory). The Markdown links the chart files write_run_report writes.
std::string run_report_markdown(const RunSummary& run, const std::string& out_dir = "");
std::string run_report_html(const RunSummary& run, const std::string& out_dir = "");

// A chart of the report: its file name (relative to the report) and SVG.
struct Chart {
  std::string file, svg;
};
std::string loss_svg(const RunSummary& run);
std::string scores_svg(const RunSummary& run);
std::vector<Chart> scores_over_steps_svgs(const RunSummary& run);  // one per category, then MMBase
Chart loss_by_source_svg(const RunSummary& run);                   // a line per source
std::vector<Chart> training_svgs(const RunSummary& run);           // learning rate, gradient norm, tokens/s
std::vector<Chart> perplexity_svgs(const RunSummary& run);         // perplexity benchmarks, held-out loss

struct WrittenReport {
  std::string markdown, html, loss_svg, scores_svg;  // paths
  std::vector<std::string> charts;                   // every SVG written (loss.svg, scores.svg, charts/*.svg)
};
// Writes report.md, report.html, loss.svg, scores.svg and charts/*.svg into `out_dir` (created),
// atomically.
WrittenReport write_run_report(const RunSummary& run, const std::string& out_dir);

// m[key] when present (a category or benchmark score), else nullopt.
std::optional<double> score_of(const std::map<std::string, double>& m, const std::string& key);

}  // namespace mm::eval
