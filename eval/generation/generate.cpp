#include "eval/generation/generate.h"

#include <ATen/CPUGeneratorImpl.h>  // at::detail::createCPUGenerator: the seeded sampler
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "tokenizer/chat_template.h"

namespace mm::gen {

MultimodalBatch make_prompt_batch(const std::vector<Prompt>& prompts, int32_t pad_id, bool left_pad,
                                  int64_t tokens_per_tile) {
  MM_CHECK(!prompts.empty(), "generation: empty batch of prompts");
  int64_t len = 0;
  for (const auto& p : prompts) {
    MM_CHECK(!p.ids.empty(), "generation: empty prompt");
    len = std::max<int64_t>(len, static_cast<int64_t>(p.ids.size()));
  }
  const int64_t b = static_cast<int64_t>(prompts.size());
  auto ids = torch::full({b, len}, pad_id, torch::kLong);
  auto pos = torch::zeros({b, len}, torch::kLong);
  auto doc = torch::full({b, len}, -1, torch::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto pa = pos.accessor<int64_t, 2>();
  auto da = doc.accessor<int64_t, 2>();
  std::vector<std::vector<int64_t>> starts(prompts.size());
  std::vector<torch::Tensor> tiles;
  std::vector<int64_t> tiles_per_row;
  for (int64_t r = 0; r < b; ++r) {
    const Prompt& p = prompts[r];
    const int64_t n = static_cast<int64_t>(p.ids.size());
    const int64_t off = left_pad ? len - n : 0;
    for (int64_t i = 0; i < n; ++i) {
      ia[r][off + i] = p.ids[i];
      pa[r][off + i] = i;
      da[r][off + i] = 0;
    }
    for (int64_t s : p.tile_starts) starts[r].push_back(off + s);
    if (p.num_tiles() > 0) {
      MM_CHECK(p.tiles.defined() && p.tiles.size(0) == p.num_tiles(),
               "generation: prompt {} has {} tile starts but {} tiles", r, p.num_tiles(),
               p.tiles.defined() ? p.tiles.size(0) : 0);
      tiles.push_back(p.tiles);
    }
    tiles_per_row.push_back(p.num_tiles());
  }
  MultimodalBatch batch;
  batch.input_ids = ids;
  batch.positions = pos;
  batch.doc_ids = doc;
  batch.tiles_per_sample = torch::tensor(tiles_per_row, torch::kLong);
  if (!tiles.empty()) {
    batch.tiles = torch::cat(tiles, 0);
    batch.image_slots = image_slots_from_tile_starts(starts, len, tokens_per_tile);
  }
  return batch;
}

namespace {

// The device of the model's weights: prompts are built on the CPU and moved there, so evaluation
// inside a CUDA training run (the trainer's eval hook) works on the model where it is.
torch::Device model_device(MultimodalModel& model) {
  const auto params = model->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

// Embeddings of a prompt batch with the image tokens in place.
torch::Tensor embed_batch(MultimodalModel& model, const MultimodalBatch& batch) {
  torch::Tensor image_tokens;
  if (batch.tiles.defined() && batch.tiles.size(0) > 0) {
    auto t = model->encode_images(batch.tiles);  // (N, M, d)
    image_tokens = t.reshape({-1, t.size(2)});
  }
  return model->embed_with_images(batch.input_ids, image_tokens, batch.image_slots, batch.tiles_per_sample);
}

bool ends_with(const std::vector<int32_t>& ids, const std::vector<int32_t>& suffix) {
  return !suffix.empty() && suffix.size() <= ids.size() && std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin());
}

}  // namespace

namespace {

// The next token of each row of `logits` (B, V): argmax, or a sample (GenerateOptions).
torch::Tensor choose(const torch::Tensor& logits, const GenerateOptions& options, at::Generator& sampler) {
  if (options.temperature <= 0) return logits.argmax(1).to(torch::kCPU);
  // On the CPU in float64: the same draw whatever device the model runs on.
  auto probs = torch::softmax(logits.to(torch::kCPU, torch::kDouble) / options.temperature, 1);
  if (options.top_p < 1) {
    auto [sorted, order] = probs.sort(1, /*descending=*/true);
    // A token stays when the probability of the tokens before it is still below top_p.
    auto before = sorted.cumsum(1) - sorted;
    sorted.masked_fill_(before >= options.top_p, 0.0);
    probs = torch::zeros_like(probs).scatter_(1, order, sorted);
  }
  return torch::multinomial(probs, 1, /*replacement=*/false, sampler).squeeze(1);
}

}  // namespace

std::vector<Generation> generate(MultimodalModel& model, const tok::Tokenizer& tokenizer,
                                 const std::vector<Prompt>& prompts, const GenerateOptions& options) {
  MM_CHECK(options.max_new_tokens > 0, "generation: max_new_tokens must be positive, got {}", options.max_new_tokens);
  MM_CHECK(options.temperature >= 0 && std::isfinite(options.temperature),
           "generation: temperature must be a finite number >= 0 (0 = greedy), got {}", options.temperature);
  MM_CHECK(options.top_p > 0 && options.top_p <= 1, "generation: top_p must be in (0, 1], got {}", options.top_p);
  std::vector<Generation> out(prompts.size());
  if (prompts.empty()) return out;
  torch::NoGradGuard no_grad;
  const int64_t vocab = model->llm->cfg.vocab_size;
  const int64_t tok_vocab = tokenizer.vocab_size();
  MM_CHECK(tok_vocab <= vocab, "generation: the tokenizer has {} ids but the model's vocabulary only {}", tok_vocab,
           vocab);
  const tok::ChatTemplate tmpl = tok::resolve_chat_template(tokenizer.config());
  const std::vector<int32_t> turn_end =
      tmpl.turn_end.empty() ? std::vector<int32_t>{} : tokenizer.encode(tmpl.turn_end);
  const int32_t eos = tokenizer.eos_id();

  const torch::Device dev = model_device(model);
  MultimodalBatch batch =
      to_device(make_prompt_batch(prompts, tokenizer.pad_id(), /*left_pad=*/true, model->tokens_per_tile()), dev);
  const int64_t len = batch.input_ids.size(1);
  auto embeds = embed_batch(model, batch);
  llm::KVCache cache;
  auto dec = model->llm->forward_embeds(embeds, batch.positions, batch.doc_ids, &cache, /*compute_logits=*/false);
  auto logits = model->llm->lm_logits(dec.hidden.narrow(1, len - 1, 1)).squeeze(1);  // (B, V)

  at::Generator sampler = at::detail::createCPUGenerator(options.seed);
  std::vector<int64_t> active(prompts.size());  // original index of each cache row
  for (size_t r = 0; r < prompts.size(); ++r) active[r] = static_cast<int64_t>(r);
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    auto next = choose(logits.narrow(1, 0, tok_vocab), options, sampler);  // (B_active) on the CPU
    auto na = next.accessor<int64_t, 1>();
    std::vector<int64_t> keep;  // cache rows that go on
    for (size_t r = 0; r < active.size(); ++r) {
      Generation& g = out[active[r]];
      g.output_ids.push_back(static_cast<int32_t>(na[r]));
      if (g.output_ids.back() == eos) {
        g.stop = "eos";
      } else if (ends_with(g.output_ids, turn_end)) {
        g.stop = "turn_end";
      } else {
        keep.push_back(static_cast<int64_t>(r));
      }
    }
    if (keep.empty() || step + 1 == options.max_new_tokens) break;
    if (keep.size() < active.size()) {                     // drop finished rows from the cache
      const auto idx = torch::tensor(keep, torch::kLong);  // next is on the CPU, the cache on dev
      const auto idx_dev = idx.to(dev);
      for (auto& layer : cache.layers) {
        layer.k = layer.k.index_select(0, idx_dev);
        layer.v = layer.v.index_select(0, idx_dev);
      }
      cache.doc_ids = cache.doc_ids.index_select(0, idx_dev);
      std::vector<int64_t> still;
      for (int64_t r : keep) still.push_back(active[r]);
      active = std::move(still);
      next = next.index_select(0, idx);
    }
    const int64_t b = static_cast<int64_t>(active.size());
    auto pos = torch::empty({b, 1}, torch::kLong);
    for (int64_t r = 0; r < b; ++r) {
      pos[r][0] = static_cast<int64_t>(prompts[active[r]].ids.size() + out[active[r]].output_ids.size()) - 1;
    }
    auto doc = torch::zeros({b, 1}, torch::kLong);
    auto step_out = model->llm->forward(next.view({b, 1}).to(dev), pos.to(dev), doc.to(dev), &cache);
    logits = step_out.logits.squeeze(1);  // (B_active, V)
  }

  for (auto& g : out) {
    if (g.stop.empty()) g.stop = "length";
    std::vector<int32_t> text_ids = g.output_ids;
    if (g.stop == "eos") text_ids.pop_back();
    if (g.stop == "turn_end") text_ids.resize(text_ids.size() - turn_end.size());
    g.text = tokenizer.decode(text_ids);
  }
  return out;
}

std::vector<std::vector<double>> score_answers(MultimodalModel& model, const std::vector<Prompt>& prompts) {
  std::vector<std::vector<double>> out(prompts.size());
  if (prompts.empty()) return out;
  torch::NoGradGuard no_grad;
  for (size_t r = 0; r < prompts.size(); ++r) {
    MM_CHECK(prompts[r].answer_begin >= 0, "scoring: prompt {} was not built with build_scored", r);
  }
  const torch::Device dev = model_device(model);
  MultimodalBatch batch = to_device(make_prompt_batch(prompts, 0, /*left_pad=*/false, model->tokens_per_tile()), dev);
  auto embeds = embed_batch(model, batch);
  auto dec = model->llm->forward_embeds(embeds, batch.positions, batch.doc_ids, nullptr, /*compute_logits=*/false);
  for (size_t r = 0; r < prompts.size(); ++r) {
    const Prompt& p = prompts[r];
    const int64_t n = static_cast<int64_t>(p.ids.size());
    const int64_t first = std::max<int64_t>(p.answer_begin, 1);
    if (first >= n) continue;
    // logits at t - 1 predict token t
    auto hidden = dec.hidden[static_cast<int64_t>(r)].narrow(0, first - 1, n - first);  // (K, D)
    auto logp = torch::log_softmax(model->llm->lm_logits(hidden.unsqueeze(0)).squeeze(0).to(torch::kFloat), -1);
    std::vector<int64_t> targets(p.ids.begin() + first, p.ids.end());
    auto picked = logp.gather(1, torch::tensor(targets, torch::kLong).view({-1, 1}).to(dev))
                      .view({-1})
                      .to(torch::kCPU, torch::kDouble);
    auto pa = picked.accessor<double, 1>();
    for (int64_t i = 0; i < picked.size(0); ++i) out[r].push_back(pa[i]);
  }
  return out;
}

}  // namespace mm::gen
