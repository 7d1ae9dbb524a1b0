// RunConfig: the whole resolved configuration of one run, one section per component, and its
// public API: load (defaults < YAML with inherit < --set), dump, hash, JSON, logging set-up.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/dist_config.h"
#include "core/config/eval_config.h"
#include "core/config/image_config.h"
#include "core/config/loader_config.h"
#include "core/config/log_config.h"
#include "core/config/model_config.h"
#include "core/config/optim_config.h"
#include "core/config/rules.h"
#include "core/config/tokenizer_config.h"
#include "core/config/train_config.h"

namespace mm::log {
struct Options;
}

namespace mm {

// The sections of a run: X(type, key, doc). Adding a section is one line here (plus its include).
#define MM_RUN_CONFIG_SECTIONS(X)                                                                  \
  X(ModelConfig, model, "the model: image encoder, connector, decoder")                            \
  X(ImageConfig, image, "image preprocessing: decode, dynamic splitting, normalisation")           \
  X(TokenizerConfig, tokenizer, "SentencePiece model, special tokens, chat template")              \
  X(DataConfig, data, "the sources of this stage and their mixture")                               \
  X(LoaderConfig, loader, "sequence length, micro-batch, packing, prefetching workers")            \
  X(TrainConfig, train, "the stage: steps, accumulation, init_from, trainable modules, intervals") \
  X(OptimizerConfig, optimizer, "AdamW or Adafactor")                                              \
  X(ScheduleConfig, schedule, "learning-rate schedule")                                            \
  X(DistConfig, dist, "data parallel: backend, timeouts, buckets")                                 \
  X(EvalConfig, eval, "held-out evaluation sets and decoding")                                     \
  X(LogConfig, log, "logging")

struct RunConfig {
  std::string name = "debug";          // run name (shown in logs and metrics)
  std::string run_dir = "runs/debug";  // checkpoints, metrics and the saved config go here
  int64_t seed = 0;                    // the root of every RNG stream of the run

#define MM_RUN_CONFIG_FIELD(type, key, doc) type key;
  MM_RUN_CONFIG_SECTIONS(MM_RUN_CONFIG_FIELD)
#undef MM_RUN_CONFIG_FIELD

  template <class V>
  void visit(V& v) {
    v("name", name, "run name", cfg::non_empty());
    v("run_dir", run_dir, "run directory: checkpoints, metrics, config.yaml, train.log", cfg::non_empty());
    v("seed", seed, "seed of every RNG stream (data order, init, dropout)", cfg::non_negative());
#define MM_RUN_CONFIG_VISIT(type, key, doc) v(#key, key, doc);
    MM_RUN_CONFIG_SECTIONS(MM_RUN_CONFIG_VISIT)
#undef MM_RUN_CONFIG_VISIT
  }

  // Rules across sections (each section's own rules are in its visit() and validate()).
  void validate(cfg::Problems& p) const {
    // One image is at least one tile of model.connector.num_tokens tokens (the tile budget's last
    // resort); a sequence that cannot hold it would quarantine every sample with an image.
    for (const auto& s : data.sources) {
      if (s.format == "text" || loader.seq_len > model.connector.num_tokens) continue;
      p.add("loader.seq_len", "must exceed model.connector.num_tokens (" + std::to_string(model.connector.num_tokens) +
                                  ": the tokens of one image tile) for source '" + s.name + "' with images, got " +
                                  std::to_string(loader.seq_len));
      break;
    }
  }
};

// Defaults < `path` and its inherit chain ("" = defaults only) < each `sets` entry ("a.b=value",
// the value parsed as YAML). Throws cfg::ConfigError (an mm::Error) with one line on bad input.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& sets = {});

// The resolved config as canonical YAML; load_run_config of this text gives an identical config.
std::string dump_yaml(const RunConfig& cfg);

// A stable 16-hex-digit hash of dump_yaml (FNV-1a 64), stored in checkpoints.
std::string config_hash(const RunConfig& cfg);

// The config as JSON (keys sorted; mmtrain info --json keeps visit() order instead).
nlohmann::json to_json(const RunConfig& cfg);

// The keys whose values differ between `before` and `after`, each as "key.path: old -> new"
// (a list entry as key[i]; a key only one side has shows "(none)"), in key order.
std::vector<std::string> config_differences(const RunConfig& before, const RunConfig& after);

// Logger options for this run on `rank`; with_file adds <run_dir>/train.log when log.to_file.
log::Options log_options(const RunConfig& cfg, int rank, bool with_file);

// mm::log::init(log_options(...)): call once the config (and the rank) is known.
void init_logging(const RunConfig& cfg, int rank = 0, bool with_file = false);

}  // namespace mm
