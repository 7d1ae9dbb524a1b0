#include "models/llm/rope.h"

#include "core/check.h"

namespace mm::llm {

RopeTables rope_tables(const torch::Tensor& positions, int64_t head_dim, double theta,
                       torch::ScalarType dtype) {
  MM_CHECK(head_dim % 2 == 0, "rope: head_dim must be even, got {}", head_dim);
  MM_CHECK(positions.dim() == 2, "rope: positions must be (B, T), got {} dims", positions.dim());
  auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(positions.device());
  auto exponent = torch::arange(0, head_dim, 2, fopt.dtype(torch::kLong)).to(torch::kFloat) /
                  static_cast<double>(head_dim);                     // (hd/2)
  auto inv_freq = 1.0 / torch::pow(theta, exponent);                 // (hd/2)
  auto freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq;  // (B, T, hd/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(2);            // (B, T, 1, hd)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope) {
  auto halves = x.chunk(2, -1);  // split (not narrow): its backward is one cat, no zero fill
  auto rotated = torch::cat({-halves[1], halves[0]}, -1);  // (B, T, H, hd)
  return x * rope.cos + rotated * rope.sin;
}

}  // namespace mm::llm
