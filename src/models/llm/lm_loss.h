// Next-token cross-entropy for packed sequences (HF convention: labels are aligned with the
// inputs, the loss shifts them); predictions that would cross a document boundary, padding
// (doc id < 0) and labels equal to -100 carry no loss.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

inline constexpr int64_t kIgnoreIndex = -100;

// The targets the loss counts: labels (B, T), doc_ids (B, T) -> (B, T-1) bool, true where position
// t predicts labels[t + 1] (labels[t + 1] != -100 and doc_ids[t] == doc_ids[t + 1] >= 0). Needs no
// logits, so a trainer can count a batch's loss tokens before the forward.
torch::Tensor causal_lm_targets(const torch::Tensor& labels, const torch::Tensor& doc_ids);

// logits (B, T, V), labels (B, T), doc_ids (B, T) -> {() sum of the cross-entropy over the counted
// targets (float), () their count (int64)}. The logits are read in place: the targets are shifted
// (position t gets labels[t + 1], the last position none), not the logits, so neither the forward
// nor the backward copies the (B, T, V) tensor.
std::pair<torch::Tensor, torch::Tensor> causal_lm_nll_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                                                          const torch::Tensor& doc_ids);

// logits (B, T, V), labels (B, T), doc_ids (B, T) -> () mean over the counted targets (0 when
// there are none). Position t predicts labels[t + 1] when doc_ids[t] == doc_ids[t + 1] >= 0.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& doc_ids);

}  // namespace mm::llm
