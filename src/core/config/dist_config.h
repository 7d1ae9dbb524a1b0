// Typed configuration of distributed data parallel (the `dist:` section): backend, collective
// timeout, gradient bucket size and unused-parameter handling.
#pragma once
#include <string>

#include "core/config/rules.h"

namespace mm {

struct DistConfig {
  std::string backend = "auto";         // auto = nccl when built with CUDA and a GPU is present, else gloo
  double timeout_s = 300;               // rendezvous and every collective; a timeout raises mm::Error
  double bucket_cap_mb = 25;            // gradient bucket size for the bucketed all-reduce
  bool find_unused_parameters = false;  // let the Reducer detect parameters without a gradient
  bool all_ranks_logging = false;       // every rank logs ("[rank N]"), not only rank 0
  std::string shard = "none";           // none | optimizer | gradients | parameters (ZeRO-1/2/3)

  template <class V>
  void visit(V& v) {
    v("backend", backend, "process group backend: auto | gloo | nccl", cfg::one_of({"auto", "gloo", "nccl"}));
    v("timeout_s", timeout_s, "rendezvous and collective timeout in seconds", cfg::positive());
    v("bucket_cap_mb", bucket_cap_mb, "gradient all-reduce bucket size in MiB", cfg::positive());
    v("find_unused_parameters", find_unused_parameters,
      "detect parameters that got no gradient on a rank (off: the model gives every parameter a gradient)");
    v("shard", shard,
      "what is sharded over the ranks: none (data parallel) | optimizer | gradients | parameters (ZeRO-1/2/3)",
      cfg::one_of({"none", "optimizer", "gradients", "parameters"}));
    v("all_ranks_logging", all_ranks_logging, "log on every rank, each line prefixed [rank N]");
  }
};

}  // namespace mm
