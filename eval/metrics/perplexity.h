// Perplexity of a text from its per-token log-likelihoods (natural log).
#pragma once
#include <vector>

namespace mm::eval {

// exp(-mean(token_logprobs)); throws on an empty list or a positive log-probability.
double perplexity(const std::vector<double>& token_logprobs);

// Corpus perplexity: exp(-sum of all log-probs / total token count) over several texts.
double corpus_perplexity(const std::vector<std::vector<double>>& texts);

}  // namespace mm::eval
