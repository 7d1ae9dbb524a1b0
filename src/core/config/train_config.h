// Typed configuration of one training stage (the `train:` section) and of the data it reads (the
// `data:` section). A recipe (configs/recipes/) lists stages; each stage is a full RunConfig whose
// `train.stage` names it (trainers/loop/recipe.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/data_config.h"
#include "core/config/mixture_config.h"
#include "core/config/rules.h"

namespace mm {

// The sources a stage trains on and how they mix.
struct DataConfig {
  std::vector<SourceConfig> sources;
  MixtureConfig mixture;
  std::vector<SourceConfig> heldout;  // validation sources: loss per source at every eval
  int64_t heldout_batches = 2;        // batches read from each held-out source per eval
  double max_bad_fraction = 0.01;     // a source with more quarantined records stops training (as data lint fails it)

  template <class V>
  void visit(V& v) {
    v("sources", sources, "datasets of this stage (name, format, path, category, weight)");
    v("mixture", mixture, "how the sources mix: groups, categories, per-batch sampling");
    v("heldout", heldout, "held-out sources (same fields): their loss is measured at every eval, never trained on");
    v("heldout_batches", heldout_batches, "batches (loader.micro_batch sequences) per held-out source and eval",
      cfg::positive());
    v("max_bad_fraction", max_bad_fraction,
      "training stops (one line) when a source's quarantined records exceed this fraction of its records "
      "(data lint's --max-bad-fraction default; 1 = never)",
      cfg::probability());
  }
};

// Which parameters train and at which learning-rate multiplier. The last rule whose selector
// matches a parameter decides (src/models/param_rules.h): vision | connector | llm |
// llm.embeddings | llm.router | norms | <component>.norms | a glob or dotted prefix.
struct ParamRuleConfig {
  std::string select;
  bool trainable = true;
  double lr_mult = 1.0;

  template <class V>
  void visit(V& v) {
    v("select", select, "parameters: vision | connector | llm | norms | llm.embeddings | glob | prefix",
      cfg::required() & cfg::non_empty());
    v("trainable", trainable, "false freezes the selected parameters");
    v("lr_mult", lr_mult, "learning-rate multiplier on top of the schedule", cfg::non_negative());
  }
};

struct TrainConfig {
  std::string stage = "train";          // stage name (pretrain, ocr_cpt, sft, ...)
  int64_t steps = 100;                  // optimizer steps of the stage
  int64_t max_tokens = 0;               // also stop once this many real tokens were seen (0 = steps only)
  int64_t grad_accum = 1;               // micro-batches per optimizer step (per rank)
  double clip_grad_norm = 1.0;          // global-norm clipping (0 = measure only)
  std::string precision = "fp32";       // fp32 | bf16 (autocast; CUDA builds)
  std::string device = "auto";          // auto | cpu | cuda
  int64_t threads = 0;                  // intra-op threads (0 = LibTorch's default)
  std::string init_from;                // "" = fresh init | previous (the recipe's previous stage) | checkpoint path
  std::vector<ParamRuleConfig> params;  // freezing and per-module lr multipliers (empty: train all)
  int64_t log_interval = 10;            // steps between metrics.jsonl / progress lines
  int64_t checkpoint_interval = 0;      // steps between checkpoints (0 = end of the stage only)
  int64_t keep_last = 2;                // checkpoints kept (newest)
  int64_t keep_every = 0;               // also keep every checkpoint whose step is a multiple of this
  int64_t max_skipped_steps = 5;        // consecutive non-finite steps before the run aborts
  int64_t spike_window = 100;           // loss-spike detector: window of past losses
  double spike_z = 6.0;                 // loss-spike detector: z-score threshold

  template <class V>
  void visit(V& v) {
    v("stage", stage, "stage name (recipes set it from the stage entry)", cfg::non_empty());
    v("steps", steps, "optimizer steps of this stage", cfg::positive());
    v("max_tokens", max_tokens, "stop the stage once this many real tokens were seen (0 = steps only)",
      cfg::non_negative());
    v("grad_accum", grad_accum, "micro-batches per optimizer step on each rank", cfg::positive());
    v("clip_grad_norm", clip_grad_norm, "global gradient-norm clipping (0 = measure only)", cfg::non_negative());
    v("precision", precision, "fp32 | bf16 (autocast on CUDA)", cfg::one_of({"fp32", "bf16"}));
    v("device", device, "auto | cpu | cuda", cfg::one_of({"auto", "cpu", "cuda"}));
    v("threads", threads, "intra-op CPU threads (0 = LibTorch default)", cfg::non_negative());
    v("init_from", init_from, "'' = fresh init | previous (previous stage's final checkpoint) | checkpoint path",
      cfg::input_path({"previous"}));
    v("params", params, "trainable / lr_mult rules, the last matching rule wins (empty: all train)");
    v("log_interval", log_interval, "steps between progress lines and metrics.jsonl records", cfg::positive());
    v("checkpoint_interval", checkpoint_interval, "steps between checkpoints (0 = end of stage only)",
      cfg::non_negative());
    v("keep_last", keep_last, "newest checkpoints kept", cfg::positive());
    v("keep_every", keep_every, "also keep checkpoints at multiples of this step (0 = none)", cfg::non_negative());
    v("max_skipped_steps", max_skipped_steps, "consecutive non-finite steps before aborting", cfg::positive());
    v("spike_window", spike_window, "loss-spike detector window", cfg::positive());
    v("spike_z", spike_z, "loss-spike z-score threshold", cfg::positive());
  }
};

}  // namespace mm
