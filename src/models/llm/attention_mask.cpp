#include "models/llm/attention_mask.h"

#include <limits>

#include "core/check.h"

namespace mm::llm {

AttentionMask make_document_mask(const torch::Tensor& q_doc, const torch::Tensor& k_doc, torch::ScalarType dtype) {
  MM_CHECK(q_doc.dim() == 2 && k_doc.dim() == 2 && q_doc.size(0) == k_doc.size(0),
           "attention mask: doc ids must be (B, Tq) and (B, Tk)");
  const int64_t tq = q_doc.size(1), tk = k_doc.size(1), past = tk - tq;
  MM_CHECK(past >= 0, "attention mask: {} queries but only {} keys", tq, tk);
  auto lopt = torch::TensorOptions().dtype(torch::kLong).device(q_doc.device());
  auto qi = (torch::arange(tq, lopt) + past).unsqueeze(1);                           // (Tq, 1)
  auto kj = torch::arange(tk, lopt).unsqueeze(0);                                    // (1, Tk)
  auto causal = kj.le(qi);                                                           // (Tq, Tk)
  auto diag = kj.eq(qi);                                                             // (Tq, Tk)
  auto same = q_doc.unsqueeze(2).eq(k_doc.unsqueeze(1)) & q_doc.ge(0).unsqueeze(2);  // (B, Tq, Tk)
  auto allowed = ((same & causal) | diag).unsqueeze(1);                              // (B, 1, Tq, Tk)
  auto additive = torch::zeros(allowed.sizes(), torch::TensorOptions().dtype(dtype).device(q_doc.device()))
                      .masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return {allowed, additive};
}

}  // namespace mm::llm
