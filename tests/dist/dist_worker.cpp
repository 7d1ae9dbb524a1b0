// A rank of the multi-process tests (started by mm::dist::launch from test_dist):
//   dist_worker collectives | ddp <mlp|moe> <accum> <out_prefix> | fail | timeout
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <limits>
#include <thread>

#include "core/check.h"
#include "dist/collectives.h"
#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "toy_models.h"

namespace {

using namespace mm::dist;

Group make_group(double timeout_s) {
  mm::DistConfig cfg;
  cfg.timeout_s = timeout_s;
  return init_process_group(dist_env_from_process(), cfg);
}

int run_collectives() {
  Group g = make_group(30);
  auto sums = all_reduce(g, {g.rank() + 1.0, 1.0});
  double mx = all_reduce(g, g.rank() * 10.0, ReduceOp::max);
  bool nonfinite = any_rank_nonfinite(g, g.rank() == 1 ? std::numeric_limits<double>::quiet_NaN() : 1.0);
  bool none = any_rank(g, false);
  std::string b = broadcast_string(g, g.rank() == 0 ? R"({"step":12,"seed":"abc"})" : "ignored");
  auto all = all_gather_strings(g, std::string(static_cast<size_t>(g.rank() * 3 + 1), 'a' + g.rank()));
  std::cout << "sum=" << sums[0] << "," << sums[1] << " max=" << mx << " nonfinite=" << nonfinite << " any=" << none
            << " bcast=" << b << " gather=" << all.size() << ":" << all[0] << "|" << all[1] << std::endl;
  return 0;
}

int run_ddp(bool moe, int accum, const std::string& out_prefix) {
  Group g = make_group(30);
  MM_CHECK(g.world_size() == 2, "ddp test expects 2 ranks, got {}", g.world_size());
  toy::ToyNet net = toy::make_net(moe, 7 + static_cast<uint64_t>(g.rank()));  // rank 1 differs: broadcast fixes it
  DataParallelOptions o;
  o.bucket_cap_mb = 0.0005;  // ~500 bytes: several buckets even for this toy
  o.first_bucket_cap_mb = 0.0002;
  o.find_unused_parameters = moe;
  DataParallel dp(*net, g, o);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(toy::kLr));
  const int64_t per_rank = toy::kBatch / 2, micro = per_rank / accum;
  for (int s = 0; s < 10; ++s) {
    opt.zero_grad();
    toy::Batch full = toy::make_batch(s);
    for (int m = 0; m < accum; ++m) {
      const bool sync = m == accum - 1;
      const int64_t lo = g.rank() * per_rank + m * micro;
      toy::Batch b = toy::slice(full, lo, lo + micro);
      dp.prepare_forward(sync);
      dp.backward(torch::mse_loss(net->forward(b), b.y) / accum);
      if (s == 0) {
        std::cout << (sync ? "sync" : "nosync") << "_grad=" << std::setprecision(17)
                  << net->parameters()[0].grad().sum().item<double>() << std::endl;
      }
    }
    opt.step();
  }
  std::cout << "buckets=" << dp.buckets().size() << std::endl;
  torch::save(toy::snapshot(net), out_prefix + ".rank" + std::to_string(g.rank()) + ".pt");
  return 0;
}

int run_fail() {
  if (mm::dist::dist_env_from_process().rank == 1) {
    std::cerr << "error: rank one failed on purpose" << std::endl;
    return 3;
  }
  std::this_thread::sleep_for(std::chrono::seconds(60));  // the launcher must stop this rank
  return 0;
}

int run_timeout() {
  Group g = make_group(30);  // connecting may take seconds on a busy machine
  g.set_timeout(std::chrono::milliseconds(1500));
  if (g.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(4));  // never joins the collective in time
    return 0;
  }
  try {
    all_reduce(g, 1.0);
    std::cout << "no timeout" << std::endl;
  } catch (const mm::Error& e) {
    std::cout << "caught: " << e.what() << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "collectives") return run_collectives();
    if (mode == "ddp" && argc == 5) return run_ddp(std::string(argv[2]) == "moe", std::stoi(argv[3]), argv[4]);
    if (mode == "fail") return run_fail();
    if (mode == "timeout") return run_timeout();
    std::cerr << "usage: dist_worker collectives | ddp <mlp|moe> <accum> <out_prefix> | fail | timeout\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "dist_worker: error: " << e.what() << std::endl;
    return 1;
  }
}
