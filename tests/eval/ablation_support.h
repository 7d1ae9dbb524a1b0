// Helpers of the sweep report's tests (test_ablation_report.cpp, test_ablation_fit.cpp): a sweep
// directory as `mmtrain ablate run` writes it (sweep.json, each run's final eval JSON and the resolved
// config of its varying stage), built from known scores.
#pragma once
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace mm::eval::ablation_test {

struct FakeRun {
  std::string variant;
  int seed = 0;
  std::map<std::string, double> scores;  // category -> score ("MMBase" -> mmbase)
  nlohmann::ordered_json axes = nlohmann::ordered_json::object();
  std::map<std::string, double> groups;  // mixture group -> weight (unnormalised) in sft/config.yaml
  std::string status = "done";
  std::string error;
  bool write_eval = true;
  bool eval_in_json = true;  // sweep.json names the eval JSON (else the reader finds it)
};

inline std::string run_id(const FakeRun& r) { return fmt::format("{}-seed{}", r.variant, r.seed); }

// Writes <dir>/sweep.json and the runs' files under <dir>/runs/<variant>-seed<N>/sft/.
inline void write_sweep(const mm::test::TempDir& dir, const std::vector<FakeRun>& runs, const std::string& baseline,
                        int items = 100) {
  nlohmann::ordered_json j;
  j["name"] = "fake", j["baseline"] = baseline;
  j["stages"] = {"pretrain", "sft"}, j["varying_stages"] = {"sft"};
  j["train_s"] = 125.0, j["overhead_s"] = 4.0;
  j["runs"] = nlohmann::ordered_json::array();
  for (const auto& r : runs) {
    const std::string rd = dir / ("runs/" + run_id(r));
    const std::string eval = rd + "/sft/eval/step_000100.json";
    if (r.write_eval) {
      nlohmann::ordered_json e;
      e["categories"] = nlohmann::ordered_json::object();
      e["benchmarks"] = nlohmann::ordered_json::object();
      for (const auto& [cat, s] : r.scores) {
        if (cat == "MMBase") {
          e["mmbase"] = s;
          continue;
        }
        e["categories"][cat] = s;
        e["benchmarks"]["bench_" + cat] = {{"category", cat}, {"metric", "exact_match"}, {"n", items}, {"score", s}};
      }
      e["benchmarks"]["text_ppl"] = {{"category", "text-only"}, {"metric", "perplexity"}, {"n", 50}, {"score", 30.0}};
      dir.write("runs/" + run_id(r) + "/sft/eval/step_000100.json", e.dump(1));
      dir.write("runs/" + run_id(r) + "/sft/eval/step_000050.json", "{\"categories\": {\"general\": 0.01}}");
    }
    if (!r.groups.empty()) {
      std::string yaml = "name: sft\ndata:\n  mixture:\n    seed: 1\n    groups:\n";
      for (const auto& [g, w] : r.groups)
        yaml += fmt::format("      - name: {}\n        weight: {}\n        categories: []\n", g, w);
      dir.write("runs/" + run_id(r) + "/sft/config.yaml", yaml);
    }
    nlohmann::ordered_json jr = {
        {"variant", r.variant}, {"seed", r.seed},    {"baseline", r.variant == baseline},
        {"run_dir", rd},        {"trains", {"sft"}}, {"status", r.status},
        {"error", r.error},     {"wall_s", 60.0},    {"eval", r.write_eval && r.eval_in_json ? eval : ""},
        {"axes", r.axes}};
    j["runs"].push_back(jr);
  }
  dir.write("sweep.json", j.dump(1));
}

}  // namespace mm::eval::ablation_test
