// TrainState (state.json) round trips and reads the previous layout; StepHealth's skip and spike
// policy, including its memory across a resume.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "core/check.h"
#include "core/config/train_config.h"
#include "trainers/loop/step_health.h"
#include "trainers/loop/train_state.h"
#include "trainers/loop/train_step.h"

using mm::train::StepHealth;
using mm::train::StepResult;
using mm::train::TrainState;

namespace {

TrainState sample_state() {
  TrainState s;
  s.step = 120;
  s.stage = "sft";
  s.stage_complete = true;
  s.tokens_seen = 987654321012;
  s.samples_seen = 4321;
  s.consecutive_skips = 2;
  s.world_size = 3;
  s.config_hash = "0123456789abcdef";
  s.spike_history = {2.5, 0.1 + 0.2, 1.0 / 3.0, 1e-300, 12345.678901234567};
  s.rng_cpu = "00ff10ab";
  s.loaders = {nlohmann::json{{"position", 7}, {"sources", {{"a", 1}, {"b", 2}}}},
               nlohmann::json{{"position", 8}, {"carry", nlohmann::json::array({1, 2, 3})}}};
  return s;
}

void check_equal(const TrainState& a, const TrainState& b) {
  CHECK(a.step == b.step);
  CHECK(a.stage == b.stage);
  CHECK(a.stage_complete == b.stage_complete);
  CHECK(a.tokens_seen == b.tokens_seen);
  CHECK(a.samples_seen == b.samples_seen);
  CHECK(a.consecutive_skips == b.consecutive_skips);
  CHECK(a.world_size == b.world_size);
  CHECK(a.config_hash == b.config_hash);
  CHECK(a.spike_history == b.spike_history);  // exact: doubles survive the text form bit for bit
  CHECK(a.rng_cpu == b.rng_cpu);
  CHECK(a.loaders == b.loaders);
}

StepResult step_result(double loss, bool skipped = false) {
  StepResult r;
  r.loss = loss;
  r.skipped = skipped;
  return r;
}

}  // namespace

TEST_CASE("TrainState: state.json round trip through its text form", "[trainers][state]") {
  const TrainState s = sample_state();
  const std::string text = nlohmann::json(mm::train::to_json(s)).dump();
  check_equal(mm::train::train_state_from_json(nlohmann::json::parse(text), "x/state.json"), s);
}

TEST_CASE("TrainState reads state.json as the loop wrote it before TrainState existed", "[trainers][state]") {
  // Written by the previous train loop (an unordered nlohmann::json, so keys in alphabetical order).
  const std::string previous =
      R"({"config_hash":"8d1c0c3b2f6a9e10","consecutive_skips":0,"loaders":[{"cursor":3,"epoch":0}],)"
      R"("rng_cpu":"0a0b","samples_seen":48,"spike_history":[3.25,3.125],"stage":"pretrain",)"
      R"("stage_complete":false,"step":6,"tokens_seen":2304,"world_size":1})";
  const TrainState s = mm::train::train_state_from_json(nlohmann::json::parse(previous), "old/state.json");
  CHECK(s.step == 6);
  CHECK(s.stage == "pretrain");
  CHECK_FALSE(s.stage_complete);
  CHECK(s.tokens_seen == 2304);
  CHECK(s.samples_seen == 48);
  CHECK(s.spike_history == std::vector<double>{3.25, 3.125});
  CHECK(s.rng_cpu == "0a0b");
  REQUIRE(s.loaders.size() == 1);
  CHECK(s.loaders[0].at("cursor") == 3);
  // The same state written now reads back the same: the writer did not drop a key.
  check_equal(mm::train::train_state_from_json(nlohmann::json(mm::train::to_json(s)), "new/state.json"), s);

  SECTION("keys an older state.json lacks keep their defaults") {
    const TrainState t = mm::train::train_state_from_json(
        nlohmann::json::parse(R"({"step": 4, "stage": "a", "loaders": [{}]})"), "older/state.json");
    CHECK(t.step == 4);
    CHECK(t.spike_history.empty());
    CHECK(t.rng_cpu.empty());
    CHECK(t.consecutive_skips == 0);
  }
}

TEST_CASE("TrainState: a malformed state.json is one line naming the file and the key", "[trainers][state]") {
  CHECK_THROWS_WITH(mm::train::train_state_from_json(nlohmann::json::parse(R"({"step": "ten"})"), "r/state.json"),
                    Catch::Contains("step") && Catch::Contains("integer") && Catch::Contains("r/state.json"));
  CHECK_THROWS_WITH(
      mm::train::train_state_from_json(nlohmann::json::parse(R"({"step": 1, "stpe_complete": true})"), "r/state.json"),
      Catch::Contains("stpe_complete") && Catch::Contains("r/state.json"));
  CHECK_THROWS_WITH(mm::train::train_state_from_json(nlohmann::json::parse(R"({"stage": "a"})"), "r/state.json"),
                    Catch::Contains("'step'") && Catch::Contains("r/state.json"));
}

TEST_CASE("capture_cpu_rng / restore_cpu_rng continue the same random stream", "[trainers][state]") {
  torch::manual_seed(7);
  (void)torch::randn({5});
  const std::string saved = mm::train::capture_cpu_rng();
  const torch::Tensor a = torch::randn({16});
  (void)torch::randn({100});
  mm::train::restore_cpu_rng(saved, "x/state.json");
  CHECK(torch::equal(torch::randn({16}), a));
  CHECK_THROWS_WITH(mm::train::restore_cpu_rng("zz", "x/state.json"),
                    Catch::Contains("x/state.json") && Catch::Contains("rng_cpu"));
}

TEST_CASE("StepHealth: skipped steps are counted and abort the stage after max_skipped_steps in a row",
          "[trainers][health]") {
  mm::TrainConfig tc;
  tc.stage = "pretrain";
  tc.max_skipped_steps = 3;
  StepHealth h(tc, TrainState{});
  const auto samples = [] { return std::string("src:0"); };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(h.account(1, step_result(nan, true), samples) == StepHealth::Verdict::kSkipped);
  CHECK(h.account(2, step_result(nan, true), samples) == StepHealth::Verdict::kSkipped);
  CHECK(h.consecutive_skips() == 2);
  CHECK(h.account(3, step_result(2.0), samples) == StepHealth::Verdict::kHealthy);  // a good step resets
  CHECK(h.consecutive_skips() == 0);
  h.account(4, step_result(nan, true), samples);
  h.account(5, step_result(nan, true), samples);
  CHECK_THROWS_WITH(h.account(6, step_result(nan, true), samples),
                    Catch::Contains("stage 'pretrain'") && Catch::Contains("3 consecutive non-finite steps"));
}

TEST_CASE("StepHealth: a spike is reported, and a resumed policy gives the same verdicts", "[trainers][health]") {
  mm::TrainConfig tc;
  tc.stage = "sft";
  tc.spike_window = 50;
  tc.spike_z = 6.0;
  int sampled = 0;
  const auto samples = [&sampled] { return ++sampled, std::string("src:7"); };
  StepHealth a(tc, TrainState{});
  for (int i = 0; i < 30; ++i)
    REQUIRE(a.account(i + 1, step_result(2.0 + 0.01 * (i % 5)), samples) == StepHealth::Verdict::kHealthy);
  CHECK(sampled == 0);  // samples are named only for a warning

  // Resume: the window travels through the TrainState.
  TrainState st;
  a.save_into(st);
  CHECK(st.spike_history.size() == 30);
  StepHealth b(tc, st);
  CHECK(a.account(31, step_result(9.0), samples) == StepHealth::Verdict::kSpike);
  CHECK(b.account(31, step_result(9.0), samples) == StepHealth::Verdict::kSpike);
  CHECK(sampled == 2);
  // A spike is not added to the window, so the next one is caught too.
  CHECK(a.account(32, step_result(9.0), samples) == StepHealth::Verdict::kSpike);
  CHECK(a.account(33, step_result(2.02), samples) == StepHealth::Verdict::kHealthy);
}
