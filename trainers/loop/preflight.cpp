// The pre-flight check of a recipe (preflight.h).
#include "trainers/loop/preflight.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/check.h"
#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/image/split_plan.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace mm::train {

std::string PreflightReport::to_text(const std::string& recipe_path) const {
  std::string out = fmt::format("pre-flight of {}: {} problem(s) before step 1 ({} stage(s) checked):", recipe_path,
                                problems.size(), stages_checked);
  for (const auto& p : problems) out += "\n  - " + p;
  return out;
}

PreflightReport preflight(const Recipe& recipe, const PreflightOptions& opts) {
  if (!opts.only_stage.empty()) recipe.index_of(opts.only_stage);  // an unknown stage: one line naming them
  PreflightReport r;
  auto file_problem = [&](const std::string& text) { (opts.require_files ? r.problems : r.missing).push_back(text); };
  std::set<std::string> reported_files;  // each missing file once, however many stages read it
  std::map<std::string, int64_t> tokenizer_pieces;
  for (const RunConfig& cfg : recipe.stages) {
    if (!opts.only_stage.empty() && cfg.train.stage != opts.only_stage) continue;
    ++r.stages_checked;
    const std::string where = fmt::format("stage '{}'", cfg.train.stage);
    auto problem = [&](const std::string& text) { r.problems.push_back(where + ": " + text); };

    try {
      data::validate_image_config(cfg.image);
    } catch (const mm::Error& e) {
      problem(without_location(e.what()));
    }
    const int64_t total = cfg.schedule.total_steps > 0 ? cfg.schedule.total_steps : cfg.train.steps;
    if (cfg.schedule.warmup_steps > total)
      problem(fmt::format("schedule.warmup_steps {} is longer than the schedule ({} steps{})",
                          cfg.schedule.warmup_steps, total,
                          cfg.schedule.total_steps > 0 ? ", schedule.total_steps" : " of train.steps"));
    if (cfg.data.sources.empty()) file_problem(where + ": data.sources: the stage lists no data sources");
    // dist.shard: every mode is implemented (ZeRO-1/2: trainers/loop/zero_optimizer.h, ZeRO-3: zero_params.h).
    const std::string& init = cfg.train.init_from;
    if (!init.empty() && init != "previous" && !fs::exists(init))
      problem(fmt::format("train.init_from {}: no such checkpoint, checkpoints folder or run directory", init));

    // The files the stage reads.
    auto sources = cfg.data.sources;
    sources.insert(sources.end(), cfg.data.heldout.begin(), cfg.data.heldout.end());
    for (const auto& s : sources) {
      try {
        data::expand_source_paths(s.name, s.path, {".tar", ".jsonl", ".json", ".txt"});
      } catch (const mm::Error& e) {
        const std::string text = without_location(e.what());
        if (reported_files.insert(text).second) file_problem(where + ": data " + text);
      }
    }
    for (const auto& set : cfg.eval.sets)
      if (!fs::is_regular_file(set) && reported_files.insert("eval " + set).second)
        file_problem(fmt::format("{}: eval.sets: {} does not exist", where, set));
    const std::string& tok = cfg.tokenizer.model_path;
    if (tok.empty()) {
      file_problem(where + ": tokenizer.model_path is empty (a SentencePiece .model file; docs/your_own_data.md)");
    } else if (!fs::is_regular_file(tok)) {
      if (reported_files.insert("tokenizer " + tok).second)
        file_problem(fmt::format("{}: tokenizer.model_path {} does not exist", where, tok));
    } else {
      auto it = tokenizer_pieces.find(tok);
      if (it == tokenizer_pieces.end()) {
        int64_t pieces = -1;
        try {
          pieces = tok::Tokenizer::load(cfg.tokenizer).vocab_size();
        } catch (const mm::Error& e) {
          problem(fmt::format("tokenizer {}: {}", tok, without_location(e.what())));
        }
        it = tokenizer_pieces.emplace(tok, pieces).first;
      }
      if (it->second > cfg.model.llm.vocab_size)
        problem(fmt::format("the tokenizer {} has {} pieces, more than model.llm.vocab_size = {} embedding rows", tok,
                            it->second, cfg.model.llm.vocab_size));
    }
  }
  return r;
}

}  // namespace mm::train
