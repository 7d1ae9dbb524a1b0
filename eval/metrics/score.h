// A model's answer to one eval item and the dispatch from an item's metric to its scoring function.
#pragma once
#include <string>
#include <vector>

#include "eval/eval_item.h"

namespace mm::eval {

struct Prediction {
  std::string text;                    // the generated answer (greedy decoding)
  std::vector<double> token_logprobs;  // perplexity items: log p of each token of answers[0]
};

// The item's score: in [0, 1] for accuracy metrics; for perplexity, exp(-mean log-prob).
double score_item(const EvalItem& item, const Prediction& prediction);

}  // namespace mm::eval
