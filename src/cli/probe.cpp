// mmtrain probe: which words of a stage's training text a checkpoint predicts from the picture
// (eval/generation/word_probe.h): teacher-forced whole-word accuracy per word group, with each
// sample's own images and with other images of the batch. Works on any checkpoint, including a
// pretraining one that cannot answer the eval questions yet.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/logging.h"
#include "data_pipeline/loader/loader.h"
#include "eval/generation/evaluate_model.h"
#include "eval/generation/word_probe.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"
#include "trainers/loop/recipe.h"

namespace mm::cli {
namespace {

struct ProbeArgs {
  std::string config;
  std::string checkpoint;
  std::string stage;
  std::string source;
  std::vector<std::string> groups;
  std::vector<std::string> sets;
  int64_t batches = 10;
  std::string out;
};

void run_probe(const ProbeArgs& a) {
  const train::Recipe recipe = train::load_recipe(a.config, a.sets);
  RunConfig data_cfg = a.stage.empty() ? recipe.stages.back() : recipe.stages[recipe.index_of(a.stage)];
  if (!a.source.empty()) {  // that source alone, without the mixture's groups
    std::vector<std::string> names;
    for (const auto& s : data_cfg.data.sources) names.push_back(s.name);
    auto it = std::find(names.begin(), names.end(), a.source);
    MM_CHECK(it != names.end(), "--source {}: stage '{}' has no such source (it has: {})", a.source,
             data_cfg.train.stage, fmt::join(names, ", "));
    const SourceConfig only = data_cfg.data.sources[static_cast<size_t>(it - names.begin())];
    data_cfg.data.sources = {only};
    data_cfg.data.mixture.groups.clear();
  }
  init_logging(data_cfg);
  auto log = mm::log::get("probe");
  mm::LoadedModel loaded = mm::load_model_checkpoint(a.checkpoint);
  // The data and its preprocessing (sources, mixture, image mode, packing) from --config's stage;
  // the model and its tokenizer from the checkpoint.
  tok::Tokenizer tokenizer = load_checkpoint_tokenizer(loaded.config, loaded.path);
  std::vector<gen::WordGroup> groups;
  for (const auto& spec : a.groups) groups.push_back(gen::parse_word_group(spec));
  if (groups.empty()) groups = gen::synth_word_groups();
  auto loader = data::make_loader(data_cfg.data.sources, data_cfg.data.mixture, data_cfg.image, tokenizer,
                                  loaded.config.model.connector.num_tokens, data_cfg.loader);
  log->info("checkpoint {} (step {}) on stage '{}' data{}, {} batches of {} x {} tokens", loaded.path, loaded.step,
            data_cfg.train.stage, a.source.empty() ? "" : " (source " + a.source + ")", a.batches,
            data_cfg.loader.micro_batch, data_cfg.loader.seq_len);
  const gen::WordProbeReport report = gen::probe_words(loaded.model, *loader, tokenizer, groups, a.batches);
  std::cout << gen::word_probe_markdown(report);
  if (!a.out.empty()) {
    nlohmann::json j = gen::word_probe_json(report);
    j["checkpoint"] = loaded.path;
    j["step"] = loaded.step;
    j["stage"] = data_cfg.train.stage;
    io::write_file_atomic(a.out, j.dump(2) + "\n");
    std::cout << "report: " << a.out << "\n";
  }
}

}  // namespace

void add_probe(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "probe", "Which words of a stage's training text a checkpoint predicts from the picture (teacher-forced)");
  auto args = std::make_shared<ProbeArgs>();
  cmd->add_option("--config", args->config, "run config or recipe whose stage names the data")->required();
  cmd->add_option("--checkpoint", args->checkpoint, "checkpoint folder, checkpoints/ folder or run directory")
      ->required();
  cmd->add_option("--stage", args->stage, "the recipe stage whose data to read (default: the last)");
  cmd->add_option("--source", args->source, "read only this source of the stage (default: the stage's mixture)");
  cmd->add_option("--group", args->groups,
                  "a word group, name=word,word,... ('#' = any number; repeatable; default: the synthetic "
                  "world's colour, shape, position, sign word and number)");
  cmd->add_option("--batches", args->batches, "batches to read (default 10)")->check(CLI::PositiveNumber);
  cmd->add_option("--set", args->sets, "override a key of --config: loader.micro_batch=16 (repeatable)");
  cmd->add_option("--out", args->out, "also write the scores as JSON to this file");
  cmd->callback([args]() { run_probe(*args); });
}

}  // namespace mm::cli
