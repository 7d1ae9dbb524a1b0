// Analytic model FLOPs of one training step (forward + backward = 3 x forward), per component, for
// `mmtrain bench`'s model FLOP/s and MFU. Conventions (docs/bench.md):
//  - a weight matrix applied at n positions costs 2 x numel x n forward, 6 x numel x n per step;
//    biases, norms, embedding lookups and elementwise ops are not counted;
//  - decoder: 6 x N_matmul x B x T, N_matmul = the decoder's active parameters minus norms and the
//    (untied) embedding lookup; the LM head counts; MoE layers count top_k experts plus the router;
//  - attention scores (QK^T and PV), PaLM's accounting (full, not causal): 12 x layers x seq x seq x
//    width per sequence (decoder: seq = T, width = dim; ViT: seq = tokens per tile, width = width);
//  - ViT: patch-embedding conv at every patch, 4 W^2 + 2 W F per block at every token of a tile;
//  - connector: its convolutions / linears at the positions they run at (c_abstractor: first
//    RegStage on the g x g patch grid, second on the sqrt(M) x sqrt(M) grid, squeeze-excitation at
//    one position, readout at the M output tokens).
#pragma once
#include <cstdint>

#include "core/config/model_config.h"

namespace mm::bench {

struct StepFlops {
  double decoder_matmul = 0;     // 6 x N_matmul x B x T
  double decoder_attention = 0;  // 12 x layers x B x T^2 x dim
  double vision = 0;             // ViT matmuls + ViT attention, all tiles
  double connector = 0;          // connector convolutions / linears, all tiles
  double total() const { return decoder_matmul + decoder_attention + vision + connector; }
};

// Decoder weights that take part in matmuls (see the header comment).
int64_t decoder_matmul_params(const LLMConfig& cfg);

// Forward FLOPs of the ViT on one tile at cfg.image_size (matmuls + attention).
double vit_forward_flops_per_tile(const VisionConfig& cfg);

// Forward FLOPs of the connector on one tile.
double connector_forward_flops_per_tile(const ModelConfig& cfg);

// One training step of B sequences of T tokens carrying `tiles` image tiles (0: text only).
StepFlops training_step_flops(const ModelConfig& cfg, int64_t batch, int64_t seq_len, int64_t tiles);

}  // namespace mm::bench
