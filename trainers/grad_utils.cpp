// Global-norm clipping, finiteness checks, loss-spike detection.
#include "trainers/grad_utils.h"

#include <torch/torch.h>

#include <cmath>

#include "core/check.h"

namespace mm::train {

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm,
                      const std::function<std::vector<double>(std::vector<double>)>& sum_over_ranks) {
  torch::NoGradGuard no_grad;
  std::vector<double> terms(params.size(), 0.0);  // each tensor's squared norm (0 without a gradient)
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& g = params[i].grad();
    if (!g.defined()) continue;
    const double n = g.to(torch::kDouble).norm(2).item<double>();
    terms[i] = n * n;
  }
  if (sum_over_ranks) {
    terms = sum_over_ranks(std::move(terms));
    MM_CHECK(terms.size() == params.size(), "clip_grad_norm: {} squared norms summed over ranks, expected {}",
             terms.size(), params.size());
  }
  double sq = 0.0;
  for (double t : terms) sq += t;
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return norm;
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  return clip_grad_norm(params, max_norm, nullptr);
}

bool all_finite(double loss, const std::vector<torch::Tensor>& params) {
  if (!std::isfinite(loss)) return false;
  for (const auto& p : params) {
    const auto& g = p.grad();
    if (g.defined() && !torch::isfinite(g).all().item<bool>()) return false;
  }
  return true;
}

SpikeDetector::SpikeDetector(SpikeDetectorOptions options) : opt_(options) {
  MM_CHECK(opt_.window >= 2, "spike detector: window must be >= 2, got {}", opt_.window);
  MM_CHECK(opt_.min_history >= 2 && opt_.min_history <= opt_.window,
           "spike detector: min_history must lie in [2, window={}], got {}", opt_.window, opt_.min_history);
  MM_CHECK(opt_.z_threshold > 0, "spike detector: z_threshold must be positive, got {}", opt_.z_threshold);
}

bool SpikeDetector::update(double loss) {
  last_z_ = 0.0;
  if (!std::isfinite(loss)) return false;
  bool spike = false;
  if (static_cast<int64_t>(history_.size()) >= opt_.min_history) {
    double mean = 0.0;
    for (double x : history_) mean += x;
    mean /= history_.size();
    double var = 0.0;
    for (double x : history_) var += (x - mean) * (x - mean);
    const double sd = std::sqrt(var / (history_.size() - 1));
    // A flat history (sd ~ 0) would flag any rise; floor sd at 1e-3 of the mean's magnitude.
    const double denom = std::max(sd, 1e-3 * std::abs(mean) + 1e-12);
    last_z_ = (loss - mean) / denom;
    spike = last_z_ > opt_.z_threshold;
  }
  if (!spike) {
    history_.push_back(loss);
    if (static_cast<int64_t>(history_.size()) > opt_.window) history_.pop_front();
  }
  return spike;
}

void SpikeDetector::set_history(std::deque<double> h) {
  while (static_cast<int64_t>(h.size()) > opt_.window) h.pop_front();
  history_ = std::move(h);
}

}  // namespace mm::train
