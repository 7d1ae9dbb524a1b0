// Typed configuration of evaluation (the `eval:` section): which eval sets, how to decode, how
// often to evaluate during training and what the report shows. Consumed by eval/ (Evaluator).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/rules.h"

namespace mm {

struct EvalConfig {
  std::vector<std::string> sets;  // eval-set JSONL files (docs/evaluation.md)
  int64_t max_new_tokens = 32;    // greedy decoding stops here or at end-of-sequence
  int64_t batch_size = 8;         // items per predict() call
  int64_t interval = 0;           // optimizer steps between evals while training; 0 = end of stage only
  int64_t examples = 6;           // example predictions per benchmark in the report (half right, half wrong)
  int64_t max_items = 0;          // items per benchmark, in file order; 0 = all
  bool check_images = true;       // skip (and list) items whose image files are missing

  template <class V>
  void visit(V& v) {
    v("sets", sets, "eval-set JSONL files (format: docs/evaluation.md)", cfg::input_path());
    v("max_new_tokens", max_new_tokens, "greedy decoding length limit", cfg::positive());
    v("batch_size", batch_size, "items per generation batch", cfg::positive());
    v("interval", interval, "optimizer steps between evaluations during training (0 = end of each stage)",
      cfg::non_negative());
    v("examples", examples, "example predictions per benchmark in the report", cfg::non_negative());
    v("max_items", max_items, "items evaluated per benchmark, in file order (0 = all)", cfg::non_negative());
    v("check_images", check_images, "skip and list items whose image files are missing");
  }
};

}  // namespace mm
