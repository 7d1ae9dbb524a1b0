#include "eval/generation/prompt.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/check.h"

namespace mm::gen {
namespace {

data::SamplePipelineOptions pipeline_options(const RunConfig& cfg) {
  data::SamplePipelineOptions o;
  o.image = cfg.image;
  o.seq_len = cfg.loader.seq_len;
  o.split_long_text = true;  // a long text prompt is decoded whole (no packer here)
  return o;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Drops `suffix` from the end of `ids`; false when `ids` does not end with it.
bool drop_suffix(std::vector<int32_t>& ids, const std::vector<int32_t>& suffix) {
  if (suffix.size() > ids.size() || !std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin())) return false;
  ids.resize(ids.size() - suffix.size());
  return true;
}

}  // namespace

PromptBuilder::PromptBuilder(const RunConfig& cfg, tok::Tokenizer tokenizer, int64_t tokens_per_tile)
    : pipeline_(tok::SampleEncoder(std::move(tokenizer), tokens_per_tile), pipeline_options(cfg)) {
  // A tile other than the ViT's image_size interpolates its position table (as in training): it must only cut into
  // whole patches.
  MM_CHECK(cfg.image.tile_size % cfg.model.vision.patch_size == 0,
           "image.tile_size {} is not a multiple of model.vision.patch_size {}: a tile is cut into whole patches",
           cfg.image.tile_size, cfg.model.vision.patch_size);
}

Prompt PromptBuilder::build(const std::string& question, const std::vector<std::string>& images,
                            const std::string& what, const std::string& system) const {
  data::RawSample s;
  if (!system.empty()) s.turns.push_back({data::Role::System, system});
  s.turns.push_back({data::Role::User, question});
  s.turns.push_back({data::Role::Assistant, ""});
  for (const auto& path : images) s.images.push_back(data::ImageRef{path});
  Prompt p = encode(s, "", what);
  p.answer_begin = -1;
  return p;
}

Prompt PromptBuilder::build_scored(const std::string& question, const std::vector<std::string>& images,
                                   const std::string& answer, const std::string& what) const {
  data::RawSample s;
  if (blank(question) && images.empty()) {
    s.turns = {{data::Role::Text, answer}};  // text perplexity: [bos] answer
  } else {
    s.turns = {{data::Role::User, question}, {data::Role::Assistant, answer}};
  }
  for (const auto& path : images) s.images.push_back(data::ImageRef{path});
  return encode(s, answer, what);
}

Prompt PromptBuilder::encode(const data::RawSample& raw, const std::string& answer, const std::string& what) const {
  data::RawSample s = raw;
  s.source = "eval";
  s.id = what;
  data::EncodedItem item = pipeline_.encode(s);
  MM_CHECK(item.ok(), "{}: {}", what, item.error ? item.error->reason : std::string("cannot be encoded"));
  const tok::Tokenizer& tok = tokenizer();
  const tok::ChatTemplate t = tok::resolve_chat_template(tok.config());
  Prompt p;
  p.ids = item.sample.input_ids;
  // The template closes the last turn (turn_end after an assistant turn, eos at the end): drop
  // both so the decoder continues the assistant's answer. Templates without add_eos (llama3, chatml) still end
  // a text-only sample with eos (apply_chat_template's eos_after_text).
  const bool eos_at_end = t.add_eos || (t.eos_after_text && s.turns.back().role == data::Role::Text);
  if (eos_at_end) MM_CHECK(drop_suffix(p.ids, {tok.eos_id()}), "{}: the encoded prompt does not end with eos", what);
  if (s.turns.back().role == data::Role::Assistant && !t.turn_end.empty()) {
    MM_CHECK(drop_suffix(p.ids, tok.encode(t.turn_end)), "{}: the encoded prompt does not end with turn_end \"{}\"",
             what, t.turn_end);
  }
  const std::vector<int32_t> answer_ids = answer.empty() ? std::vector<int32_t>{} : tok.encode(answer);
  MM_CHECK(drop_suffix(p.ids, answer_ids), "{}: the encoded prompt does not end with the answer's tokens", what);
  p.answer_begin = static_cast<int64_t>(p.ids.size());
  p.ids.insert(p.ids.end(), answer_ids.begin(), answer_ids.end());

  std::vector<torch::Tensor> tiles;
  for (size_t k = 0; k < item.sample.image_slots.size(); ++k) {
    const auto& starts = item.sample.image_slots[k].tile_starts;
    p.tile_starts.insert(p.tile_starts.end(), starts.begin(), starts.end());
    tiles.push_back(item.tiles[k]);
  }
  if (!tiles.empty()) p.tiles = torch::cat(tiles, 0);
  for (int64_t start : p.tile_starts) {
    MM_CHECK(start + tokens_per_tile() <= p.answer_begin, "{}: an image's slots run into the answer", what);
  }
  return p;
}

}  // namespace mm::gen
