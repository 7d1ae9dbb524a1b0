// Internal to the memory planner (memory_plan.h): the bytes the forward of one micro-batch saves for
// backward, counted tensor by tensor as the model code saves them, for the two code paths.
#pragma once
#include <cstdint>

#include "core/config/model_config.h"
#include "trainers/plan/memory_plan.h"

namespace mm::train::plan_detail {

struct ActivationShape {
  int64_t batch = 0, seq_len = 0, tiles = 0;  // tiles: all tiles of the micro-batch
  int64_t tile_side = 0;                      // pixels (image.tile_size: the ViT runs at it)
  bool cuda = false;                          // cuda path (LibTorch 2.x) vs the CPU path (LibTorch 1.13, fp32)
  int64_t c = 4;                              // bytes of a compute-dtype element (2 under bf16 autocast)
};

// Saved bytes of one decoder layer (its output included, its input not) and of one ViT block.
int64_t decoder_layer_bytes(const LLMConfig& llm, int64_t layer, const ActivationShape& s);
int64_t vit_block_bytes(const VisionConfig& v, const ActivationShape& s);
// The activation gradients alive at once inside one decoder layer's backward.
int64_t decoder_layer_grad_working(const LLMConfig& llm, int64_t layer, const ActivationShape& s);

// The whole forward's saved bytes (recompute: each layer's and block's input only) plus backward's
// working set at its peak.
ActivationBytes activation_bytes(const ModelConfig& m, const ActivationShape& s, bool recompute);

// Elements of the stacked q/k/v and gate/up (MoE: every expert's w1/w3) weights of decoder layer `layer`.
int64_t stacked_weight_elems(const LLMConfig& llm, int64_t layer);

// Parameters of decoder layer `layer` and of one ViT block.
int64_t decoder_layer_params(const LLMConfig& llm, int64_t layer);
int64_t vit_block_params(const VisionConfig& v);

}  // namespace mm::train::plan_detail
