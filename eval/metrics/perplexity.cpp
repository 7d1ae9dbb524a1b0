// Perplexity.
#include "eval/metrics/perplexity.h"

#include <cmath>

#include "core/check.h"

namespace mm::eval {

double corpus_perplexity(const std::vector<std::vector<double>>& texts) {
  double sum = 0;
  size_t count = 0;
  for (const auto& lp : texts) {
    for (double x : lp) {
      MM_CHECK(std::isfinite(x) && x <= 1e-9, "perplexity: a token log-probability must be finite and <= 0, got {}", x);
      sum += x;
    }
    count += lp.size();
  }
  MM_CHECK(count > 0, "perplexity needs at least one token log-probability");
  return std::exp(-sum / static_cast<double>(count));
}

double perplexity(const std::vector<double>& token_logprobs) { return corpus_perplexity({token_logprobs}); }

}  // namespace mm::eval
