// mmtrain data: the data subcommand group. `data synth` writes the synthetic world.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/config/config.h"
#include "core/config/synth_config.h"
#include "data_pipeline/synth/synth_world.h"

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

}  // namespace

void add_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Dataset tools: synthetic world");
  data->require_subcommand(1);

  auto* synth = data->add_subcommand("synth", "Write the synthetic world (all stages, eval sets, tokenizer)");
  auto out = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto seed = std::make_shared<int64_t>(-1);
  synth->add_option("--out", *out, "output folder")->required();
  synth->add_option("--config", *config, "YAML file with a synth: section")->check(CLI::ExistingFile);
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
    if (!s.tokenizer_model.empty()) std::printf("; tokenizer %s in %.2f s", s.tokenizer_model.c_str(), s.tokenizer_seconds);
    std::printf("\nwrote %s/README.md and %s/sources.yaml\n", out->c_str(), out->c_str());
  });
}

}  // namespace mm::cli
