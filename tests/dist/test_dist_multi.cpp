// Two-rank Gloo tests: ranks are dist_worker processes started by mm::dist::launch (the launcher
// under test), every run bounded by a timeout.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <unistd.h>  // getpid
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/timer.h"
#include "dist/launcher.h"
#include "dist/process_group.h"
#include "toy_models.h"

namespace {

struct Run {
  mm::dist::LaunchResult result;
  std::string output;
  double seconds = 0;
};

Run run_workers(const std::vector<std::string>& args, double timeout_s = 60) {
  std::ostringstream out;
  mm::dist::LaunchOptions o;
  o.nproc = 2;
  o.exe = MM_DIST_WORKER;
  o.args = args;
  o.grace_s = 2;
  o.timeout_s = timeout_s;
  o.out = &out;
  const mm::Stopwatch watch;
  Run r;
  r.result = mm::dist::launch(o);
  r.seconds = watch.seconds();
  r.output = out.str();
  return r;
}

// The value printed after "[rank R] key=" (up to the line end).
std::string field(const std::string& out, int rank, const std::string& key) {
  const std::string tag = "[rank " + std::to_string(rank) + "] " + key + "=";
  size_t p = out.find(tag);
  if (p == std::string::npos) return "";
  p += tag.size();
  return out.substr(p, out.find('\n', p) - p);
}

double max_rel_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].sizes() == b[i].sizes());
    double scale = std::max(b[i].abs().max().item<double>(), 1e-12);
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>() / scale);
  }
  return worst;
}

std::vector<torch::Tensor> load(const std::string& path) {
  std::vector<torch::Tensor> t;
  torch::load(t, path);
  return t;
}

std::string tmp_prefix(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("mm_dist_" + name + "_" + std::to_string(getpid()))).string();
}

// 2 ranks x (4 rows / accum) x accum micro-steps must equal 1 process with the 8-row batch.
void check_ddp_matches_reference(bool moe, int accum) {
  const std::string prefix = tmp_prefix(std::string(moe ? "moe" : "mlp") + std::to_string(accum));
  Run r = run_workers({"ddp", moe ? "moe" : "mlp", std::to_string(accum), prefix});
  INFO(r.output << r.result.message);
  REQUIRE(r.result.exit_code == 0);
  auto rank0 = load(prefix + ".rank0.pt"), rank1 = load(prefix + ".rank1.pt");
  auto ref = mm::dist::toy::train_reference(moe, 10);
  CHECK(max_rel_diff(rank0, ref) < 1e-5);
  CHECK(max_rel_diff(rank1, rank0) == 0.0);
  // The first step's gradients: after the no_sync micro-step each rank holds only its own (so they
  // differ); after the synchronised one both hold the same average.
  CHECK(field(r.output, 0, "sync_grad") == field(r.output, 1, "sync_grad"));
  CHECK(!field(r.output, 0, "sync_grad").empty());
  if (accum > 1) {
    CHECK(!field(r.output, 0, "nosync_grad").empty());
    CHECK(field(r.output, 0, "nosync_grad") != field(r.output, 1, "nosync_grad"));
  }
  CHECK(std::stoi(field(r.output, 0, "buckets")) > 1);
  std::remove((prefix + ".rank0.pt").c_str());
  std::remove((prefix + ".rank1.pt").c_str());
}

}  // namespace

TEST_CASE("2-rank scalar, string and gather collectives", "[dist][multiprocess]") {
  Run r = run_workers({"collectives"});
  INFO(r.output << r.result.message);
  REQUIRE(r.result.exit_code == 0);
  for (int rank : {0, 1}) {
    CHECK(field(r.output, rank, "sum") ==
          R"(3,2 max=10 nonfinite=1 any=0 bcast={"step":12,"seed":"abc"} gather=2:a|bbbb)");
  }
}

TEST_CASE("DDP of an MLP on 2 ranks equals 1 process with the full batch", "[dist][multiprocess]") {
  check_ddp_matches_reference(false, 1);
}

TEST_CASE("DDP of a routed MoE where an expert gets no rows on one rank", "[dist][multiprocess]") {
  check_ddp_matches_reference(true, 1);
}

TEST_CASE("gradient accumulation: 2 micro-steps with one reduction equal the big batch", "[dist][multiprocess]") {
  check_ddp_matches_reference(false, 2);
  check_ddp_matches_reference(true, 2);
}

TEST_CASE("launcher: a failing rank stops the others and is named", "[dist][multiprocess]") {
  Run r = run_workers({"fail"}, 30);
  INFO(r.output);
  CHECK(r.result.exit_code == 3);
  CHECK(r.result.failed_rank == 1);
  CHECK(r.result.message.find("rank 1 exited with code 3") != std::string::npos);
  CHECK(r.result.message.find("failed on purpose") != std::string::npos);
  CHECK(r.output.find("[rank 1] error: rank one failed on purpose") != std::string::npos);
  CHECK(r.seconds < 10);  // rank 0 sleeps 60 s: it was stopped, not waited for
}

TEST_CASE("a collective that times out raises an error naming it", "[dist][multiprocess]") {
  Run r = run_workers({"timeout"}, 30);
  INFO(r.output << r.result.message);
  CHECK(r.result.exit_code == 0);
  CHECK(r.output.find("[rank 0] caught: ") != std::string::npos);
  // The workers' backend is "auto": gloo on CPUs, nccl (its scalars on a Gloo backend beside it)
  // where a GPU is visible.
  const std::string expected = "all_reduce(sum) of 1 scalars failed on rank 0 of 2 (" +
                               mm::dist::resolve_backend("auto") + " backend, timeout 1.5 s)";
  CHECK(r.output.find(expected) != std::string::npos);
  CHECK(r.seconds < 20);
}
