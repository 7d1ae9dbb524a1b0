// The train loop's record keeping: steps are accounted into the current interval (loss, time,
// data wait, tokens, per-source loss), and every train.log_interval steps one record goes to
// metrics.jsonl, TensorBoard and the console progress line; held-out losses and evaluation
// scores go to the same sinks. Rank 0 writes; every rank takes part in the per-source all-reduce.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "trainers/loop/train_step.h"

namespace mm::data {
struct Batch;
}
namespace mm::dist {
class Group;
}

namespace mm::train {

class MetricsJsonl;
class TensorBoardWriter;

class TrainMetrics {
 public:
  // Rank 0 (`writes`) opens <stage_dir>/metrics.jsonl (kept up to `resumed_step` when resuming,
  // else started anew) and <stage_dir>/tb/. `progress`: console progress lines.
  TrainMetrics(const RunConfig& cfg, const std::string& stage_dir, bool writes, bool resumed, int64_t resumed_step,
               bool progress);
  ~TrainMetrics();

  // A hook for train_step that adds each micro-batch's per-source losses (of `batches`) to the interval.
  MicroBatchHook source_losses(const std::vector<data::Batch>& batches);
  // One step into the interval: its result, wall seconds, seconds spent waiting for data and the most image
  // tiles one of its micro-batches held on this rank.
  void add_step(const StepResult& r, double seconds, double data_wait, int64_t batch_tiles = 0);
  // Closes the interval at `step`: per-source losses summed over ranks (every rank calls this),
  // then rank 0 writes the record and the progress line. `last` is the interval's last step.
  void log_interval(int64_t step, double lr, const StepResult& last, int64_t tokens_seen, int64_t samples_seen,
                    const dist::Group& group);
  void log_heldout(int64_t step, const nlohmann::json& losses);  // {source: loss}; rank 0
  void log_eval(int64_t step, const nlohmann::json& result);     // eval/eval_report.h JSON; rank 0

  double first_loss() const { return first_loss_; }  // mean loss of the first interval logged (0: none)
  double last_loss() const { return last_loss_; }

 private:
  const RunConfig& cfg_;
  bool progress_;
  std::unique_ptr<MetricsJsonl> jsonl_;
  std::unique_ptr<TensorBoardWriter> tb_;
  double loss_ = 0, time_ = 0, wait_ = 0;
  int64_t steps_ = 0, tokens_ = 0, max_batch_tiles_ = 0;
  std::map<std::string, double> src_sum_;
  std::map<std::string, int64_t> src_count_;
  double first_loss_ = 0, last_loss_ = 0;
  bool first_logged_ = false;
};

// Keeps the metrics.jsonl records of steps <= `step` (a resumed run rewrites what followed).
void truncate_metrics(const std::string& path, int64_t step);

}  // namespace mm::train
