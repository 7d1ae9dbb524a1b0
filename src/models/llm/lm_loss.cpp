#include "models/llm/lm_loss.h"

#include "core/check.h"

namespace mm::llm {

torch::Tensor causal_lm_targets(const torch::Tensor& labels, const torch::Tensor& doc_ids) {
  const int64_t t = labels.size(1);
  auto lab = labels.to(torch::kLong), doc = doc_ids.to(torch::kLong);
  auto doc_now = doc.narrow(1, 0, t - 1), doc_next = doc.narrow(1, 1, t - 1);
  return doc_now.eq(doc_next) & doc_now.ge(0) & lab.narrow(1, 1, t - 1).ne(kIgnoreIndex);  // (B, T-1)
}

std::pair<torch::Tensor, torch::Tensor> causal_lm_nll_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                                                          const torch::Tensor& doc_ids) {
  MM_CHECK(logits.dim() == 3 && labels.sizes() == logits.sizes().slice(0, 2) && doc_ids.sizes() == labels.sizes(),
           "causal lm loss: expected logits (B, T, V), labels and doc_ids (B, T)");
  const int64_t b = logits.size(0), t = logits.size(1), v = logits.size(2);
  auto keep = causal_lm_targets(labels, doc_ids);  // (B, T-1)
  auto next = labels.to(torch::kLong).narrow(1, 1, t - 1).masked_fill(keep.logical_not(), kIgnoreIndex);
  auto target = torch::cat({next, torch::full({b, 1}, kIgnoreIndex, next.options())}, 1).reshape({-1});  // (B*T)
  auto pred = logits.reshape({-1, v}).to(torch::kFloat);  // (B*T, V): a view of contiguous fp32 logits
  auto sum = torch::nn::functional::cross_entropy(
      pred, target, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex).reduction(torch::kSum));
  return {sum, keep.sum().to(torch::kLong)};
}

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& doc_ids) {
  auto [sum, count] = causal_lm_nll_sum(logits, labels, doc_ids);
  return sum / count.clamp_min(1).to(torch::kFloat);
}

}  // namespace mm::llm
