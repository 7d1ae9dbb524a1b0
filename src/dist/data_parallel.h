// DataParallel: data-parallel training of a torch::nn::Module on c10d::Reducer -- parameters
// broadcast from rank 0, gradients averaged in size-capped buckets while backward runs.
#pragma once
#include <torch/nn/module.h>
#include <torch/csrc/distributed/c10d/logger.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <memory>

#include "dist/process_group.h"

namespace mm::dist {

struct DataParallelOptions {
  double bucket_cap_mb = 25;
  double first_bucket_cap_mb = 1;       // a small first bucket starts communication early
  bool find_unused_parameters = false;  // needed when some parameter may get no gradient on a rank
};

// Usage per optimizer step with A accumulation micro-steps:
//   for (m = 0; m < A; ++m) {
//     bool sync = m == A - 1;            // no_sync on all micro-steps but the last
//     dp.prepare_forward(sync);
//     auto loss = model->forward(...) / A;
//     dp.backward(loss);                 // all-reduces averaged gradients only when sync
//   }
//   optimizer.step();
// With a single process the wrapper only runs loss.backward().
class DataParallel {
 public:
  DataParallel(torch::nn::Module& module, const Group& group, const DataParallelOptions& opts = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Call before each micro-step's forward; sync=false skips the all-reduce for this micro-step
  // (gradients accumulate locally in .grad and join the next synchronised reduction).
  void prepare_forward(bool sync = true);

  // Runs backward from `loss` (a scalar); with sync, the Reducer reduces buckets as they fill.
  // A failed or timed-out all-reduce throws mm::Error naming the collective.
  void backward(const at::Tensor& loss);

  // Number of buckets and their sizes in parameters (for logs and tests).
  const std::vector<std::vector<size_t>>& buckets() const { return bucket_indices_; }

 private:
  Group group_;  // a copy: shares the c10d group
  DataParallelOptions opts_;
  std::vector<at::Tensor> params_;
  std::vector<std::vector<size_t>> bucket_indices_;
  std::shared_ptr<c10d::Reducer> reducer_;
  std::shared_ptr<c10d::Logger> logger_;  // the Reducer reports graph changes to it (must exist)
  bool sync_ = true;
};

}  // namespace mm::dist
