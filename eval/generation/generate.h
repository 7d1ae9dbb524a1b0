// Decoding with the decoder's KV cache, batched over prompts of different lengths: greedy (the
// evaluation's), or sampled with a temperature and nucleus (top-p) cut, reproducibly from a seed;
// and teacher-forced scoring of answers (the token log-probabilities perplexity needs).
//
// Batching: prompts are left-padded to a common length; padding tokens get doc id -1 (the
// attention mask lets nobody attend to them) and every real token its own position 0, 1, ...,
// so each row computes exactly what it would alone. Rows that stop leave the batch (their cache
// rows are dropped).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/generation/prompt.h"
#include "models/mllm.h"
#include "tokenizer/tokenizer.h"

namespace mm::gen {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  // 0 = greedy (argmax). > 0: sample from softmax(logits / temperature), keeping the smallest set
  // of most likely tokens whose probability reaches top_p (at least one), from a CPU generator
  // seeded with `seed`: the same prompts, options and seed give the same tokens on any device.
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
};

struct Generation {
  std::vector<int32_t> output_ids;  // every generated id, the stop token(s) included
  std::string text;                 // output_ids decoded without the trailing eos / turn_end
  std::string stop;                 // "eos" | "turn_end" | "length"
};

// The continuation of each prompt, in order: greedy, or sampled (options.temperature > 0). Tokens
// are chosen among the tokenizer's ids only (a model vocabulary padded beyond it never emits an id
// the tokenizer cannot decode). Stops at eos, at the chat template's turn_end, or after
// max_new_tokens. Runs without autograd; the model's train/eval mode is the caller's
// (evaluate_model switches to eval()).
std::vector<Generation> generate(MultimodalModel& model, const tok::Tokenizer& tokenizer,
                                 const std::vector<Prompt>& prompts, const GenerateOptions& options = {});

// Teacher forcing: for each scored prompt (PromptBuilder::build_scored) the natural-log
// probability of every answer token given all tokens before it, in order. Rows are right-padded
// and batched in one forward pass. An answer token at position 0 (no bos, no prompt) has no
// context and is not scored.
std::vector<std::vector<double>> score_answers(MultimodalModel& model, const std::vector<Prompt>& prompts);

// The decoder inputs of a batch of prompts as one MultimodalBatch (no labels): ids, positions from 0
// per prompt, doc id 0 (-1 on padding), tiles and image slots (tokens_per_tile = the connector's
// M). left_pad: padding before each prompt (generation) or after it (scoring). Exposed for tests.
MultimodalBatch make_prompt_batch(const std::vector<Prompt>& prompts, int32_t pad_id, bool left_pad,
                                  int64_t tokens_per_tile);

}  // namespace mm::gen
