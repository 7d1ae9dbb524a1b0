// Shared helpers of the multimodal model tests: a tiny config and a batch with images.
#pragma once
#include <torch/torch.h>

#include "models/mllm.h"

namespace mm::test {

// ViT 16px / patch 4 (16 patches), C-Abstractor to 4 tokens, a 2-layer decoder; moe = MoE in layer 2.
inline ModelConfig tiny_model_config(bool moe = false) {
  ModelConfig c;
  c.name = "tiny";
  c.vision.image_size = 16, c.vision.patch_size = 4, c.vision.width = 16, c.vision.layers = 2;
  c.vision.heads = 2, c.vision.mlp_dim = 32;
  c.connector.num_tokens = 4, c.connector.hidden = 16, c.connector.depth = 1;
  c.llm.vocab_size = 64, c.llm.dim = 32, c.llm.layers = 2, c.llm.heads = 4, c.llm.kv_heads = 2;
  c.llm.ffn_hidden = 48;
  if (moe) c.llm.moe.num_experts = 4, c.llm.moe.expert_hidden = 16;
  return c;
}

// B = 2 rows of T = 12 tokens: row 0 holds 2 tiles (slots 1-4 and 6-9), row 1 one tile (slots 2-5);
// row 1 packs two documents and ends in padding.
inline MultimodalBatch tiny_batch(int64_t vocab, int64_t res = 16, int64_t seed = 0) {
  torch::manual_seed(seed);
  MultimodalBatch b;
  const int64_t t = 12;
  b.input_ids = torch::randint(0, vocab, {2, t}, torch::kLong);
  b.labels = b.input_ids.clone();
  b.positions = torch::arange(t).repeat({2, 1});
  b.doc_ids = torch::zeros({2, t}, torch::kLong);
  b.doc_ids[1].slice(0, 7, 10).fill_(1);
  b.doc_ids[1].slice(0, 10).fill_(-1);
  b.positions[1].slice(0, 7, 10).copy_(torch::arange(3));
  b.positions[1].slice(0, 10).fill_(0);
  b.image_slots = image_slots_from_tile_starts({{1, 6}, {2}}, t, 4);
  // image tokens carry no loss
  b.labels.view({-1}).index_fill_(0, b.image_slots, -100);
  b.tiles = torch::randn({3, 3, res, res});
  return b;
}

}  // namespace mm::test
