// TrainMetrics (train_metrics.h).
#include "trainers/loop/train_metrics.h"

#include <filesystem>
#include <fstream>

#include "core/io.h"
#include "core/logging.h"
#include "data_pipeline/loader/batch.h"
#include "dist/collectives.h"
#include "dist/process_group.h"
#include "models/llm/lm_loss.h"
#include "trainers/metrics/metrics_jsonl.h"
#include "trainers/metrics/progress.h"
#include "trainers/metrics/tb_writer.h"

namespace fs = std::filesystem;

namespace mm::train {
namespace {

// Summed loss per source of one micro-batch from its logits (no grad).
void add_source_losses(const torch::Tensor& logits, const data::Batch& b, std::map<std::string, double>& sum,
                       std::map<std::string, int64_t>& count) {
  torch::NoGradGuard ng;
  using torch::indexing::Slice;
  auto lg = logits.index({Slice(), Slice(0, -1)}).to(torch::kFloat32);
  auto tgt = b.labels.index({Slice(), Slice(1, torch::indexing::None)}).to(logits.device());
  auto mask = llm::causal_lm_targets(b.labels, b.doc_ids).to(logits.device());
  auto nll = -torch::log_softmax(lg, -1).gather(-1, tgt.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  nll = (nll * mask).to(torch::kCPU).contiguous();
  auto m = mask.to(torch::kCPU).contiguous();
  auto na = nll.accessor<float, 2>();
  auto ma = m.accessor<bool, 2>();
  for (const auto& d : b.docs) {
    double s = 0;
    int64_t c = 0;
    for (int64_t t = d.begin; t < d.begin + d.length - 1 && t < na.size(1); ++t)
      if (ma[d.row][t]) s += na[d.row][t], ++c;
    sum[d.source] += s;
    count[d.source] += c;
  }
}

}  // namespace

void truncate_metrics(const std::string& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("step", int64_t{0}) > step) continue;
    } catch (const std::exception&) {
      continue;  // a torn last line from a kill
    }
    kept += line + "\n";
  }
  io::write_file_atomic(path, kept);
}

TrainMetrics::TrainMetrics(const RunConfig& cfg, const std::string& stage_dir, bool writes, bool resumed,
                           int64_t resumed_step, bool progress)
    : cfg_(cfg), progress_(progress) {
  if (!writes) return;
  const std::string path = (fs::path(stage_dir) / "metrics.jsonl").string();
  if (resumed)
    truncate_metrics(path, resumed_step);
  else if (fs::exists(path))
    fs::remove(path);
  jsonl_ = std::make_unique<MetricsJsonl>(path);
  tb_ = std::make_unique<TensorBoardWriter>((fs::path(stage_dir) / "tb").string());
}

TrainMetrics::~TrainMetrics() = default;

MicroBatchHook TrainMetrics::source_losses(const std::vector<data::Batch>& batches) {
  return [this, &batches](const torch::Tensor& logits, size_t m) {
    add_source_losses(logits, batches[m], src_sum_, src_count_);
  };
}

void TrainMetrics::add_step(const StepResult& r, double seconds, double data_wait, int64_t batch_tiles) {
  loss_ += r.loss, time_ += seconds, wait_ += data_wait;
  max_batch_tiles_ = std::max(max_batch_tiles_, batch_tiles);
  tokens_ += static_cast<int64_t>(r.global.tokens);
  ++steps_;
}

void TrainMetrics::log_interval(int64_t step, double lr, const StepResult& last, int64_t tokens_seen,
                                int64_t samples_seen, const dist::Group& group) {
  const auto& sources = cfg_.data.sources;
  if (group.distributed()) {  // per-source losses over the whole global batch
    std::vector<double> v;
    for (const auto& sc : sources) v.push_back(src_sum_[sc.name]), v.push_back(src_count_[sc.name]);
    v = dist::all_reduce(group, v);
    for (size_t i = 0; i < sources.size(); ++i) {
      src_sum_[sources[i].name] = v[2 * i];
      src_count_[sources[i].name] = static_cast<int64_t>(v[2 * i + 1]);
    }
  }
  if (jsonl_) {
    const double mean_loss = loss_ / steps_;
    if (!first_logged_) first_loss_ = mean_loss, first_logged_ = true;
    last_loss_ = mean_loss;
    const double tokens_per_s = tokens_ / std::max(1e-9, time_);
    const double wait_frac = wait_ / std::max(1e-9, time_);
    nlohmann::json rec = {{"stage", cfg_.train.stage},
                          {"loss", mean_loss},
                          {"lr", lr},
                          {"grad_norm", last.grad_norm},
                          {"tokens_seen", tokens_seen},
                          {"samples_seen", samples_seen},
                          {"tokens_per_s", tokens_per_s},
                          {"step_time_s", time_ / steps_},
                          {"data_wait_frac", wait_frac},
                          {"max_batch_tiles", max_batch_tiles_},
                          {"skipped", last.skipped}};
    if (last.aux != 0) rec["moe_aux_loss"] = last.aux;
    nlohmann::json by_src = nlohmann::json::object();
    std::vector<std::pair<std::string, float>> scalars = {{"train/loss", static_cast<float>(mean_loss)},
                                                          {"train/lr", static_cast<float>(lr)},
                                                          {"train/grad_norm", static_cast<float>(last.grad_norm)},
                                                          {"train/tokens_per_s", static_cast<float>(tokens_per_s)}};
    for (const auto& [src, s] : src_sum_)
      if (src_count_[src] > 0) {
        by_src[src] = s / src_count_[src];
        scalars.emplace_back("loss/" + src, static_cast<float>(s / src_count_[src]));
      }
    rec["loss_by_source"] = by_src;
    jsonl_->log(step, rec);
    tb_->add_scalars(step, scalars);
    if (progress_)
      log::get("trainer")->info("{}", format_progress(ProgressInfo{cfg_.train.stage, step, cfg_.train.steps, mean_loss,
                                                                   lr, tokens_per_s, wait_frac, time_ / steps_}));
  }
  loss_ = time_ = wait_ = 0;
  steps_ = tokens_ = max_batch_tiles_ = 0;
  src_sum_.clear(), src_count_.clear();
}

void TrainMetrics::log_heldout(int64_t step, const nlohmann::json& losses) {
  if (!jsonl_) return;
  jsonl_->log(step, {{"stage", cfg_.train.stage}, {"heldout_loss", losses}});
  std::vector<std::pair<std::string, float>> sc;
  std::string line;
  for (const auto& [k, v] : losses.items()) {
    sc.emplace_back("heldout/" + k, v.get<float>());
    line += fmt::format("{}{} {:.4f}", line.empty() ? "" : ", ", k, v.get<double>());
  }
  tb_->add_scalars(step, sc);
  log::get("trainer")->info("held-out loss at step {}: {}", step, line);
}

void TrainMetrics::log_eval(int64_t step, const nlohmann::json& result) {
  if (!jsonl_) return;
  const nlohmann::json categories = result.value("categories", nlohmann::json::object());
  nlohmann::json rec = {{"stage", cfg_.train.stage}, {"eval", categories}};
  if (result.contains("mmbase")) rec["eval_mmbase"] = result["mmbase"];
  jsonl_->log(step, rec);
  std::vector<std::pair<std::string, float>> sc;
  for (const auto& [k, v] : categories.items())
    if (v.is_number()) sc.emplace_back("eval/" + k, v.get<float>());
  if (!sc.empty()) tb_->add_scalars(step, sc);
}

}  // namespace mm::train
