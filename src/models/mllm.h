// MultimodalModel: ViT over every tile -> connector -> image tokens scattered into the token
// embeddings at the image slots the data pipeline marks -> Llama-style decoder -> logits and loss.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/config/model_config.h"
#include "models/connectors/connector.h"
#include "models/llm/decoder.h"
#include "models/vision/vit.h"

namespace mm {

// One training/eval batch as the collator builds it. Labels are aligned with input_ids (HF
// convention); the loss shifts them: position t predicts labels[t + 1] within a document.
struct MultimodalBatch {
  torch::Tensor input_ids;         // (B, T) int64; ids at image slots are ignored (overwritten)
  torch::Tensor labels;            // (B, T) int64; -100 = no loss
  torch::Tensor positions;         // (B, T) int64: RoPE position, reset per packed document
  torch::Tensor doc_ids;           // (B, T) int64: document per token, < 0 = padding
  torch::Tensor tiles;             // (N, 3, r, r) float, tiles of all samples in slot order; undefined or
                                   // N = 0 for a text-only batch
  torch::Tensor image_slots;       // (N * M) int64 flat slot positions b * T + t, in tile order: tile i
                                   // fills image_slots[i*M .. (i+1)*M); undefined or empty when text-only
  torch::Tensor tiles_per_sample;  // optional (B) int64: tiles of each batch row (sharper errors)
};

struct MultimodalOutput {
  torch::Tensor logits;      // (B, T, V)
  torch::Tensor loss_sum;    // () float: summed next-token cross-entropy over counted targets
  torch::Tensor loss_count;  // () int64: counted targets (labels != -100, same document, not padding)
  torch::Tensor aux_loss;    // () MoE load-balancing loss (coefficient applied; 0 when dense)
  torch::Tensor z_loss;      // () MoE router z-loss (coefficient applied; 0 when dense)
  // Per-batch objective: loss_sum / max(loss_count, 1) + aux_loss + z_loss. A trainer averaging
  // over a global batch divides the all-reduced loss_sum by the all-reduced loss_count instead.
  torch::Tensor loss() const;
};

class MultimodalModelImpl : public torch::nn::Module {
 public:
  // Builds vision (ViT), connector (connector registry) and llm (Decoder); activation
  // checkpointing of ViT and decoder blocks follows cfg.activation_checkpointing.
  explicit MultimodalModelImpl(const ModelConfig& cfg);

  MultimodalOutput forward(const MultimodalBatch& batch);

  // tiles (N, 3, r, r) -> image tokens (N, M, d_llm)
  torch::Tensor encode_images(const torch::Tensor& tiles);

  // Token embeddings with the image tokens written at the slots: ids (B, T), image_tokens
  // (N*M, d) or undefined, slots (N*M) -> (B, T, d). Fails naming the batch row on a mismatch.
  torch::Tensor embed_with_images(const torch::Tensor& ids, const torch::Tensor& image_tokens,
                                  const torch::Tensor& slots, const torch::Tensor& tiles_per_sample = {});

  void set_activation_checkpointing(bool on);
  int64_t tokens_per_tile() const { return connector->num_tokens(); }
  const ModelConfig& config() const { return cfg_; }

  vision::VisionTransformer vision{nullptr};
  connectors::Connector connector{nullptr};
  llm::Decoder llm{nullptr};

 private:
  ModelConfig cfg_;
};
TORCH_MODULE(MultimodalModel);

// Summed next-token cross-entropy and its target count for packed sequences: logits (B, T, V),
// labels, doc_ids (B, T) -> {sum (), count () int64}; same targets as llm::causal_lm_loss.
std::pair<torch::Tensor, torch::Tensor> causal_lm_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                                                           const torch::Tensor& doc_ids);

// The batch's tensors on device d. image_slots and tiles_per_sample stay where they are: the model
// validates them on the CPU (embed_with_images), so moving them would copy them there and back.
// On the CPU the tensors are shared, not copied. Copies are non-blocking: asynchronous from pinned
// memory (the loader pins batches on CUDA), synchronous from pageable memory.
MultimodalBatch to_device(const MultimodalBatch& b, const torch::Device& d);

// Flat image slots (K) int64 from a (B, T) bool mask (row-major order of the true entries).
torch::Tensor image_slots_from_mask(const torch::Tensor& mask);

// Flat image slots from each batch row's tile starts (sequence coordinates), M slots per tile.
torch::Tensor image_slots_from_tile_starts(const std::vector<std::vector<int64_t>>& tile_starts_per_row,
                                           int64_t seq_len, int64_t tokens_per_tile);

}  // namespace mm
