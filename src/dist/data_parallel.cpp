// DataParallel on c10d::Reducer, following what torch.nn.parallel.DistributedDataParallel does
// around it: broadcast, bucket assignment, prepare_for_forward / prepare_for_backward, rebuild.
#include "dist/data_parallel.h"

#include <torch/torch.h>

#include <type_traits>

#include "core/check.h"
#include "core/logging.h"
#include "dist/collectives.h"

namespace mm::dist {
namespace {

std::string first_line(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// The Reducer's constructor changed after 1.13: trailing flags (skip_all_reduce_unused_params,
// use_python_reducer), passed as false as Python's DDP does by default, and in 2.11 a list of
// bucket byte caps instead of the per-bucket limits. A template so that the branches a LibTorch
// lacks are discarded, not compiled.
template <typename R = c10d::Reducer>
std::shared_ptr<R> make_reducer(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> buckets,
                                std::vector<size_t> limits, c10::intrusive_ptr<c10d::ProcessGroup> pg,
                                std::vector<bool> sparse, int64_t cap, bool find_unused,
                                std::unordered_map<size_t, std::string> names, int64_t first_cap) {
  using P = std::vector<at::Tensor>;
  using B = std::vector<std::vector<size_t>>;
  using L = std::vector<size_t>;
  using G = c10::intrusive_ptr<c10d::ProcessGroup>;
  using S = std::vector<bool>;
  using N = std::unordered_map<size_t, std::string>;
  const bool as_view = false;  // gradient_as_bucket_view
  if constexpr (std::is_constructible_v<R, P, B, L, G, S, int64_t, bool, bool, N, int64_t>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(limits), std::move(pg),
                               std::move(sparse), cap, find_unused, as_view, std::move(names), first_cap);
  } else if constexpr (std::is_constructible_v<R, P, B, L, G, S, int64_t, bool, bool, N, int64_t, bool>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(limits), std::move(pg),
                               std::move(sparse), cap, find_unused, as_view, std::move(names), first_cap, false);
  } else if constexpr (std::is_constructible_v<R, P, B, L, G, S, int64_t, bool, bool, N, int64_t, bool, bool>) {
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(limits), std::move(pg),
                               std::move(sparse), cap, find_unused, as_view, std::move(names), first_cap, false, false);
  } else {
    // 2.11: no per-bucket limits up front; the list of byte caps for the rebuilt buckets instead
    // (first bucket, then the rest: what the limits above say).
    std::vector<int64_t> caps{first_cap, cap};
    return std::make_shared<R>(std::move(params), std::move(buckets), std::move(pg), std::move(sparse), cap,
                               find_unused, as_view, std::move(names), first_cap, false, false, std::move(caps));
  }
}

}  // namespace

DataParallel::DataParallel(torch::nn::Module& module, const Group& group, const DataParallelOptions& opts)
    : group_(group), opts_(opts) {
  std::unordered_map<size_t, std::string> names;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    names[params_.size()] = item.key();
    params_.push_back(item.value());
  }
  MM_CHECK(!params_.empty(), "DataParallel: the module has no trainable parameters");
  if (!group_.distributed()) return;

  // Same weights everywhere: rank 0's parameters and buffers win.
  std::vector<at::Tensor> state = params_;
  for (const auto& b : module.buffers(/*recurse=*/true)) state.push_back(b);
  broadcast_tensors(group_, state, 0);

  // Buckets in reverse registration order: the last layers' gradients are ready first.
  const auto cap = static_cast<size_t>(opts_.bucket_cap_mb * 1024 * 1024);
  const auto first_cap = static_cast<size_t>(opts_.first_bucket_cap_mb * 1024 * 1024);
  std::vector<int64_t> order(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) order[i] = static_cast<int64_t>(params_.size() - 1 - i);
  std::vector<at::Tensor> reversed;
  for (int64_t i : order) reversed.push_back(params_[static_cast<size_t>(i)]);
  std::vector<size_t> limits;
  std::tie(bucket_indices_, limits) = c10d::compute_bucket_assignment_by_size(reversed, {first_cap, cap}, {}, order);
  std::vector<bool> sparse(params_.size(), false);
  reducer_ = make_reducer(params_, bucket_indices_, limits, group_.c10d_group(), sparse, static_cast<int64_t>(cap),
                          opts_.find_unused_parameters, std::move(names), static_cast<int64_t>(first_cap));
  // As in Python's DDP: with find_unused_parameters the Reducer logs through its Logger and
  // dereferences it unchecked, so one must be attached.
  logger_ = std::make_shared<c10d::Logger>(reducer_);
  reducer_->set_logger(logger_);
  mm::log::get("dist")->info("data parallel: {} parameters in {} buckets (cap {} MiB), find_unused_parameters={}",
                             params_.size(), bucket_indices_.size(), opts_.bucket_cap_mb, opts_.find_unused_parameters);
}

DataParallel::~DataParallel() = default;

void DataParallel::prepare_forward(bool sync) {
  sync_ = sync;
  if (!reducer_ || !torch::GradMode::is_enabled()) return;
  try {
    // After the first iteration DDP rebuilds buckets in the order gradients became ready (a
    // broadcast from rank 0 keeps every rank's buckets identical); later calls are no-ops.
    reducer_->rebuild_buckets();
  } catch (const std::exception& e) {
    MM_FAIL("dist: broadcast of rebuilt gradient buckets failed on rank {}: {}", group_.rank(), first_line(e.what()));
  }
  reducer_->prepare_for_forward();
}

void DataParallel::backward(const at::Tensor& loss) {
  MM_CHECK(loss.numel() == 1, "DataParallel::backward: expected a scalar loss, got {} elements", loss.numel());
  if (!reducer_) {
    loss.backward();
    return;
  }
  try {
    // Without prepare_for_backward the Reducer's hooks only record which parameters were used:
    // gradients accumulate locally and are reduced with the next synchronised micro-step.
    if (sync_)
      reducer_->prepare_for_backward(opts_.find_unused_parameters ? std::vector<at::Tensor>{loss}
                                                                  : std::vector<at::Tensor>{});
    loss.backward();
  } catch (const mm::Error&) {
    throw;
  } catch (const std::exception& e) {
    MM_FAIL("dist: bucketed all_reduce of gradients failed on rank {} of {} ({} backend, timeout {} s): {}",
            group_.rank(), group_.world_size(), group_.backend(), group_.timeout().count() / 1000.0,
            first_line(e.what()));
  }
}

}  // namespace mm::dist
