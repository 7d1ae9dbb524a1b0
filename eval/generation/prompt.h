// Prompts for generation and scoring: a question with `<image>` placeholders and image files ->
// the exact decoder input, through the same preprocessing as training (chat template, image
// split with the tile budget for the sequence length, indicators, normalisation).
//
//   generation prompt: [bos] user_prefix question turn_end assistant_prefix      (no eos)
//   scored text      : the same followed by the answer's tokens (teacher forcing)
//   text document    : [bos] answer            (empty question, no images: plain text perplexity)
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "data_pipeline/loader/sample_pipeline.h"
#include "tokenizer/tokenizer.h"

namespace mm::gen {

// One decoder input: ids (image slots hold the image token id), the tiles of all its images in
// slot order and where each tile's slots start.
struct Prompt {
  std::vector<int32_t> ids;
  torch::Tensor tiles;               // (N, 3, r, r) float; undefined when N = 0
  std::vector<int64_t> tile_starts;  // (N) position of each tile's first slot in `ids`
  int64_t answer_begin = -1;         // scored texts: first answer token in `ids` (answer runs to the end)
  int64_t num_tiles() const { return static_cast<int64_t>(tile_starts.size()); }
};

class PromptBuilder {
 public:
  // cfg.image (tile_size = the ViT's r) and cfg.loader.seq_len (the tile budget) as in training;
  // tokens_per_tile = the connector's M (model->tokens_per_tile()).
  PromptBuilder(const RunConfig& cfg, tok::Tokenizer tokenizer, int64_t tokens_per_tile);

  // The generation prompt. Throws mm::Error naming `what` (e.g. "file.jsonl:12") when an image
  // cannot be read or decoded, the placeholders do not match the images, or the sample cannot fit.
  // `system`: a system prompt, rendered as the chat template's system turn ("" = none).
  Prompt build(const std::string& question, const std::vector<std::string>& images, const std::string& what = "prompt",
               const std::string& system = "") const;

  // The prompt followed by the answer's tokens (exactly as training tokenises an assistant turn),
  // answer_begin set. An empty question without images scores `answer` as a plain text document.
  Prompt build_scored(const std::string& question, const std::vector<std::string>& images, const std::string& answer,
                      const std::string& what = "prompt") const;

  const tok::Tokenizer& tokenizer() const { return pipeline_.encoder().tokenizer(); }
  int64_t tokens_per_tile() const { return pipeline_.encoder().tokens_per_tile(); }

 private:
  data::SamplePipeline pipeline_;
  Prompt encode(const data::RawSample& s, const std::string& answer, const std::string& what) const;
};

}  // namespace mm::gen
