// mmtrain data: the data subcommand group. `data synth` writes the synthetic world; `data lint`
// checks a config's data before training.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "core/config/synth_config.h"
#include "data_pipeline/lint/lint.h"
#include "data_pipeline/synth/synth_world.h"
#include "trainers/loop/recipe.h"

namespace mm::cli {

namespace {

// The keys `data synth` accepts: synth.* (from --config and --set).
struct SynthRoot {
  SynthConfig synth;
  template <class V>
  void visit(V& v) {
    v("synth", synth, "the synthetic world");
  }
};

// `data lint --config FILE`: the pre-flight lint of a run config's data (data_pipeline/lint/lint.h).
void add_data_lint(CLI::App& data) {
  struct Args {
    std::string config, quarantine = "quarantine.jsonl";
    std::vector<std::string> sets;
    bool json = false;
    double max_bad_fraction = 0.01;
    int64_t threads = 0;
  };
  auto a = std::make_shared<Args>();
  auto* lint =
      data.add_subcommand("lint", "Read every record of the config's data sources once and report what is bad");
  lint->add_option("--config", a->config, "recipe or run config YAML with data: sections (every stage is linted)")
      ->required();  // a missing file or a folder: one line from the config reader, exit 1
  lint->add_option("--set", a->sets, "override a key: loader.seq_len=1024 (repeatable)");
  lint->add_flag("--json", a->json, "print one JSON object instead of the table");
  lint->add_option("--quarantine", a->quarantine, "where bad records go, one JSON per line ('' = not written)")
      ->capture_default_str();
  lint->add_option("--max-bad-fraction", a->max_bad_fraction,
                   "a source with more bad records than this fraction fails the lint")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  lint->add_option("--threads", a->threads, "encoding threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  lint->callback([a]() {
    // A recipe lints every stage (a plain run config is a one-stage recipe).
    const train::Recipe recipe = train::load_recipe(a->config, a->sets);
    init_logging(recipe.stages.front());
    data::LintOptions opts;
    opts.max_bad_fraction = a->max_bad_fraction;
    opts.threads = a->threads;
    bool ok = true;
    std::vector<data::QuarantineEntry> quarantined;
    nlohmann::ordered_json stages = nlohmann::ordered_json::array();
    for (const RunConfig& cfg : recipe.stages) {
      MM_CHECK(!cfg.data.sources.empty(), "data lint: {}: stage '{}' has no data.sources", a->config, cfg.train.stage);
      const bool multi = recipe.stages.size() > 1;
      const data::LintInputs in = data::lint_inputs(cfg, multi ? cfg.train.stage : "");
      const data::LintReport report = data::lint_data(in, opts);
      ok = ok && report.ok();
      quarantined.insert(quarantined.end(), report.quarantine.begin(), report.quarantine.end());
      if (a->json) {
        stages.push_back(report.to_json());
      } else {
        if (multi) std::printf("== stage %s ==\n", cfg.train.stage.c_str());
        std::printf("%s", report.to_table().c_str());
      }
    }
    if (!a->quarantine.empty()) {
      data::LintReport all;
      all.quarantine = quarantined;
      data::write_quarantine(all, a->quarantine);
    }
    if (a->json) {
      nlohmann::ordered_json j = recipe.stages.size() == 1 ? stages[0] : nlohmann::ordered_json{{"stages", stages}};
      j["ok"] = ok;
      j["quarantine_file"] = a->quarantine;
      std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (!a->quarantine.empty()) {
      std::printf("quarantine: %zu entries written to %s\n", quarantined.size(), a->quarantine.c_str());
    }
    std::fflush(stdout);
    if (!ok) throw CLI::RuntimeError(1);  // exit status 1, nothing more printed
  });
}

}  // namespace

void add_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Dataset tools: synthetic world, pre-flight lint");
  data->require_subcommand(1);

  auto* synth = data->add_subcommand("synth", "Write the synthetic world (all stages, eval sets, tokenizer)");
  auto out = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto seed = std::make_shared<int64_t>(-1);
  synth->add_option("--out", *out, "output folder")->required();
  synth->add_option("--config", *config, "YAML file with a synth: section");
  synth->add_option("--set", *sets, "override a key: synth.counts.general=500 (repeatable)");
  synth->add_option("--seed", *seed, "seed (same as --set synth.seed=N)");
  synth->callback([out, config, sets, seed]() {
    std::vector<std::string> all = *sets;
    if (*seed >= 0) all.push_back("synth.seed=" + std::to_string(*seed));
    const auto root = cfg::load_config<SynthRoot>(*config, all);
    const auto s = data::synth::write_synthetic_world(root.synth, *out);
    std::printf("%-20s %-9s %-12s %-14s %8s %8s\n", "set", "stage", "format", "category", "samples", "images");
    for (const auto& set : s.sets)
      std::printf("%-20s %-9s %-12s %-14s %8lld %8lld\n", set.name.c_str(), set.stage.c_str(), set.format.c_str(),
                  set.category.c_str(), static_cast<long long>(set.samples), static_cast<long long>(set.images));
    std::printf("total: %lld samples, %lld images in %.2f s (%.0f samples/s)", static_cast<long long>(s.samples),
                static_cast<long long>(s.images), s.seconds, s.samples / (s.seconds > 0 ? s.seconds : 1e-9));
    if (!s.tokenizer_model.empty())
      std::printf("; tokenizer %s in %.2f s", s.tokenizer_model.c_str(), s.tokenizer_seconds);
    std::printf("\nwrote %s/README.md, %s/common.yaml and %s/stages/*.yaml\n", out->c_str(), out->c_str(),
                out->c_str());
  });

  add_data_lint(*data);
}

}  // namespace mm::cli
