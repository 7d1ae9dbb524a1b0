// Next-token cross-entropy for packed sequences (HF convention: labels are aligned with the
// inputs, the loss shifts them); predictions that would cross a document boundary, padding
// (doc id < 0) and labels equal to -100 carry no loss.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

inline constexpr int64_t kIgnoreIndex = -100;

// logits (B, T, V), labels (B, T), doc_ids (B, T) -> () mean over the counted targets (0 when
// there are none). Position t predicts labels[t + 1] when doc_ids[t] == doc_ids[t + 1] >= 0.
torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                             const torch::Tensor& doc_ids);

}  // namespace mm::llm
