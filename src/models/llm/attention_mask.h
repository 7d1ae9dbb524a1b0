// The decoder's attention mask: causal AND same-document (packed sequences never attend across
// documents); a token with a negative doc id (padding) attends only to itself and nobody
// attends to it, so every softmax row stays finite.
#pragma once
#include <torch/torch.h>

namespace mm::llm {

struct AttentionMask {
  torch::Tensor allowed;   // (B, 1, Tq, Tk) bool, true = may attend (SDPA on LibTorch 2.x)
  torch::Tensor additive;  // (B, 1, Tq, Tk) 0 / -inf in the compute dtype (LibTorch 1.13 path)
};

// q_doc (B, Tq), k_doc (B, Tk) with Tk >= Tq: the queries are the last Tq of the Tk keys (the
// first Tk - Tq keys come from a KV cache).
AttentionMask make_document_mask(const torch::Tensor& q_doc, const torch::Tensor& k_doc,
                                 torch::ScalarType dtype = torch::kFloat);

}  // namespace mm::llm
