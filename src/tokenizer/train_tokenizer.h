// Training a SentencePiece model from text files through libsentencepiece's trainer, with the
// special tokens of a TokenizerConfig registered as user-defined symbols.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/tokenizer_config.h"

namespace mm::tok {

struct TrainOptions {
  std::string model_type = "unigram";   // unigram | bpe
  int num_threads = 1;                  // 1 keeps training bitwise deterministic
  bool byte_fallback = true;            // unseen characters become <0xNN> pieces, never <unk>
  bool split_digits = true;             // every digit its own piece (arithmetic data)
  bool hard_vocab_limit = false;        // false: a small corpus may yield fewer pieces than asked
  int64_t max_sentence_length = 16384;  // bytes; longer input lines are skipped by SentencePiece
};

// Trains `model_prefix`.model / .vocab on the lines of `text_files` and returns the .model path.
// Normalisation is the identity (no NFKC, whitespace kept) so decode(encode(s)) == s; no dummy
// prefix. Ids: unk 0, bos 1, eos 2, pad 3, then the special symbols, then learned pieces.
// Deterministic for fixed inputs and options.
std::string train_tokenizer(const std::vector<std::string>& text_files, const std::string& model_prefix,
                            int64_t vocab_size, const TokenizerConfig& cfg = {}, const TrainOptions& opts = {});

}  // namespace mm::tok
