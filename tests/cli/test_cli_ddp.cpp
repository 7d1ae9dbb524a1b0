// Data parallel through `mmtrain train` (Gloo, 2 local ranks via `mmtrain launch`): 2 ranks with
// micro-batch B/2 end with the same weights as 1 rank with micro-batch B after a two-stage run
// (dense and MoE), a rank killed mid-run makes the launcher fail fast, naming it, and a 2-rank
// checkpoint resumes on 1 rank.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "core/timer.h"
#include "support/tiny_world.h"

namespace fs = std::filesystem;

namespace {

const std::string kMmtrain = std::string(MM_BINARY_DIR) + "/src/cli/mmtrain";

fs::path world_dir() {
  static const fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("mm_cli_ddp_" + std::to_string(getpid()));
    REQUIRE(mm::test::write_tiny_world(kMmtrain, p) == 0);
    return p;
  }();
  return d;
}

int run(const std::string& cmd, const fs::path& log) {
  const int st = std::system((cmd + " > " + log.string() + " 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ||A - B|| / ||A|| over all parameters of two model.safetensors files (the global relative
// difference), and the worst tensor. Elementwise or per-tensor ratios are not meaningful alone:
// under Adam-style updates a gradient that is rounding noise around 0 (e.g. an attention key
// bias, whose exact gradient is 0) moves its weight by about +-lr whatever its size. Attention key
// biases are therefore left out: softmax is invariant to adding q.b to every logit of a row, so
// their gradient is exactly 0 and their updates are amplified rounding noise in both runs.
std::string fmt_worst(const std::string& name, double v) { return name + " " + std::to_string(v); }

std::pair<double, std::string> rel_diff(const fs::path& a, const fs::path& b) {
  auto fa = mm::safetensors::load(a.string());
  auto fb = mm::safetensors::load(b.string());
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  double diff2 = 0, norm2 = 0, worst = 0;
  std::string worst_name;
  for (const auto& [name, ta] : fa.tensors) {
    const auto& tb = fb.tensors.at(name);
    REQUIRE(ta.sizes() == tb.sizes());
    if (name.find("k_proj.bias") != std::string::npos) continue;
    const double d = (ta - tb).norm().item<double>(), n = ta.norm().item<double>();
    diff2 += d * d, norm2 += n * n;
    if (d / (n + 1e-12) > worst) worst = d / (n + 1e-12), worst_name = name;
  }
  return {std::sqrt(diff2 / norm2), fmt_worst(worst_name, worst)};
}

// sft_tolerance: the SFT stage starts from each run's own pretrain result and runs 12 more steps.
void check_equivalence(const std::string& extra_sets, const std::string& tag, double sft_tolerance = 1e-5) {
  const fs::path w = world_dir();
  const std::string base = kMmtrain + " train --config " + (w / "recipe.yaml").string() +
                           " --no-eval --set loader.packing=false --set train.checkpoint_interval=0 " + extra_sets;
  const fs::path one = w / ("one_" + tag), two = w / ("two_" + tag);
  REQUIRE(run(base + " --set loader.micro_batch=4 --run-dir " + one.string(), w / ("one_" + tag + ".log")) == 0);
  const int rc = run(kMmtrain + " launch --nproc 2 -- " + base.substr(kMmtrain.size() + 1) +
                         " --set loader.micro_batch=2 --run-dir " + two.string(),
                     w / ("two_" + tag + ".log"));
  INFO(read(w / ("two_" + tag + ".log")));
  REQUIRE(rc == 0);
  for (const char* stage : {"pretrain", "sft"}) {
    const fs::path rel = fs::path(stage) / "checkpoints/step_000012/model.safetensors";
    const auto [d, worst] = rel_diff(one / rel, two / rel);
    INFO(tag << " " << stage << ": relative difference " << d << " (worst tensor: " << worst << ")");
    CHECK(d < (std::string(stage) == "sft" ? sft_tolerance : 1e-5));
  }
  // Not vacuous: the SFT stage moved the weights well beyond that tolerance.
  CHECK(rel_diff(one / "pretrain/checkpoints/step_000012/model.safetensors",
                 one / "sft/checkpoints/step_000012/model.safetensors")
            .first > 1e-3);
  // The global batch's loss is logged once, by rank 0.
  const std::string log2 = read(w / ("two_" + tag + ".log"));
  CHECK(log2.find("[rank 0]") != std::string::npos);
  CHECK(log2.find("[rank 1] mmtrain: error") == std::string::npos);
}

}  // namespace

TEST_CASE("2 ranks x B/2 give the weights of 1 rank x B (dense)", "[ddp][e2e]") { check_equivalence("", "dense"); }

// The load-balancing loss is computed per micro-batch on each rank (as Megatron and HF do): a
// product of two batch means, so it is not invariant to how the global batch is split. It is
// switched off here to isolate data parallelism; the router z-loss (a mean) stays on.
// Top-1 routing is discontinuous: a token whose two best router logits lie within rounding
// distance can pick different experts in the two runs (their gradient sums differ in summation
// order, ~1e-7), which moves a few weights by O(lr). The check (10+ steps from the same
// start, 1e-5) is the pretrain stage; the SFT stage, 24 steps from the start, gets 1e-4. Measured
// (debug preset, 2026-11-26): pretrain 3e-7..2e-6; SFT 4e-7..2e-6 for seeds 1 and 3, 2.6e-5 for
// seed 0 with the fused RMSNorm, where one such flip happened.
TEST_CASE("2 ranks x B/2 give the weights of 1 rank x B (MoE, experts idle on some rank)", "[ddp][e2e]") {
  check_equivalence(
      "--set model.llm.moe.num_experts=4 --set model.llm.moe.top_k=1 --set model.llm.moe.every=1 "
      "--set model.llm.moe.expert_hidden=64 --set model.llm.moe.aux_loss_coef=0",
      "moe", 1e-4);
}

TEST_CASE("killing one rank mid-run makes the launcher exit non-zero naming it", "[ddp][e2e]") {
  const fs::path w = world_dir();
  const fs::path run_dir = w / "killed";
  const fs::path log = w / "killed.log";
  const std::string cmd = kMmtrain + " launch --nproc 2 -- train --config " + (w / "recipe.yaml").string() +
                          " --no-eval --set stages.pretrain.train.steps=400 --set dist.timeout_s=30 --run-dir " +
                          run_dir.string();
  const pid_t launcher = fork();
  REQUIRE(launcher >= 0);
  if (launcher == 0) {
    execl("/bin/sh", "sh", "-c", (cmd + " > " + log.string() + " 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until training runs, then SIGKILL the process whose environment says RANK=1.
  const mm::Stopwatch watch;
  auto elapsed = [&] { return watch.seconds(); };
  while (elapsed() < 120 && read(run_dir / "pretrain/metrics.jsonl").size() < 200)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pid_t victim = -1;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string env = read(e.path() / "environ");
    const std::string cmdline = read(e.path() / "cmdline");
    if (cmdline.find(run_dir.string()) != std::string::npos && cmdline.rfind(kMmtrain, 0) == 0 &&
        env.find(std::string("RANK=1") + '\0') != std::string::npos && env.find("LOCAL_RANK=1") != std::string::npos)
      victim = std::stoi(e.path().filename().string());
  }
  REQUIRE(victim > 0);
  REQUIRE(kill(victim, SIGKILL) == 0);
  const auto killed_at = elapsed();
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(launcher, &status, WNOHANG)) == 0 && elapsed() - killed_at < 90)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (done == 0) {  // hung: clean up, then fail
    kill(-launcher, SIGKILL);
    kill(launcher, SIGKILL);
    waitpid(launcher, &status, 0);
    FAIL("the launcher did not exit within 90 s of rank 1 being killed");
  }
  const std::string out = read(log);
  INFO(out);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(out.find("rank 1") != std::string::npos);
  CHECK(elapsed() - killed_at < 60);
}

// A checkpoint of 2 ranks resumed by one process (--resume auto): the loader states of both
// ranks are redistributed (one warning line), the stage completes, and the step accounting goes on.
TEST_CASE("a 2-rank checkpoint resumes on 1 rank with the same sample stream", "[ddp][e2e][reshard]") {
  const fs::path w = world_dir();
  const fs::path two = w / "reshard_two", one = w / "reshard_one";
  const std::string args =
      " train --config " + (w / "recipe.yaml").string() + " --no-eval --stage pretrain --set train.keep_last=4";
  const int rc = run(kMmtrain + " launch --nproc 2 --" + args + " --run-dir " + two.string(), w / "reshard_two.log");
  INFO(read(w / "reshard_two.log"));
  REQUIRE(rc == 0);
  // Keep the step-6 checkpoint only: the run is resumed from the middle of the stage.
  fs::copy(two, one, fs::copy_options::recursive);
  const fs::path ckpts = one / "pretrain/checkpoints";
  for (const char* s : {"step_000009", "step_000012"}) REQUIRE(fs::remove_all(ckpts / s) > 0);
  { std::ofstream(ckpts / "LATEST") << "step_000006\n"; }
  const auto at6 = nlohmann::json::parse(read(ckpts / "step_000006/state.json"));
  REQUIRE(at6.at("world_size") == 2);
  REQUIRE(at6.at("loaders").size() == 2);
  // Same global batch: 1 rank x 4 sequences x 4 accumulation steps = 2 ranks x 4 x 2.
  const int rc1 =
      run(kMmtrain + args + " --set stages.pretrain.train.grad_accum=4 --resume auto --run-dir " + one.string(),
          w / "reshard_one.log");
  const std::string log = read(w / "reshard_one.log");
  INFO(log);
  REQUIRE(rc1 == 0);
  CHECK(log.find("was written by 2 ranks, resuming with 1:") != std::string::npos);
  CHECK(log.find("stream positions not yet delivered") != std::string::npos);
  CHECK(log.find("is not supported") == std::string::npos);
  const auto fin = nlohmann::json::parse(read(ckpts / "step_000012/state.json"));
  CHECK(fin.at("stage_complete") == true);
  CHECK(fin.at("world_size") == 1);
  REQUIRE(fin.at("loaders").size() == 1);
  CHECK(fin.at("loaders")[0].at("world") == 1);
  // The stream went on past where the furthest old rank stopped.
  int64_t furthest = 0;
  for (const auto& l : at6.at("loaders")) furthest = std::max(furthest, l.at("sampler").at("position").get<int64_t>());
  CHECK(fin.at("loaders")[0].at("sampler").at("position").get<int64_t>() > furthest);
  // metrics.jsonl: steps 1..12 once each (6 from the 2-rank run, 6 resumed), counters growing.
  std::ifstream in(one / "pretrain/metrics.jsonl");
  std::string line;
  int64_t expect = 1, tokens = 0, samples = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("loss")) continue;
    CHECK(j.at("step").get<int64_t>() == expect);
    ++expect;
    CHECK(j.at("tokens_seen").get<int64_t>() > tokens);
    CHECK(j.at("samples_seen").get<int64_t>() > samples);
    tokens = j.at("tokens_seen").get<int64_t>(), samples = j.at("samples_seen").get<int64_t>();
  }
  CHECK(expect == 13);
  CHECK(samples == fin.at("samples_seen").get<int64_t>());
  CHECK(samples > at6.at("samples_seen").get<int64_t>());
  fs::remove_all(two);
  fs::remove_all(one);
}
