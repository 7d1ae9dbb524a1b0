#include "tokenizer/train_tokenizer.h"

#include <filesystem>
#include <unordered_map>

#include "core/check.h"
#include "core/logging.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm_library.h"
#include "tokenizer/tokenizer.h"

namespace mm::tok {

std::string train_tokenizer(const std::vector<std::string>& text_files, const std::string& model_prefix,
                            int64_t vocab_size, const TokenizerConfig& cfg, const TrainOptions& opts) {
  MM_CHECK(!text_files.empty(), "train_tokenizer: expected at least one text file");
  MM_CHECK(vocab_size > 0, "train_tokenizer: vocab_size must be positive, got {}", vocab_size);
  MM_CHECK(opts.model_type == "unigram" || opts.model_type == "bpe",
           "train_tokenizer: model_type \"{}\": expected unigram | bpe", opts.model_type);
  std::string input;
  for (const auto& f : text_files) {
    MM_CHECK(std::filesystem::is_regular_file(f), "{}: tokenizer training file not found", f);
    MM_CHECK(f.find(',') == std::string::npos, "{}: tokenizer training file paths may not contain ','", f);
    input += (input.empty() ? "" : ",") + f;
  }
  const auto dir = std::filesystem::path(model_prefix).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);

  // SentencePiece splits list-valued flags on ','; a symbol containing ',' (the default seps column
  // indicator) is kept as a required character instead, which makes it a single piece too.
  std::string symbols, required;
  for (const auto& s : special_symbols(cfg)) {
    if (s.find(',') != std::string::npos) {
      for (char c : s) {
        if (required.find(c) == std::string::npos) required += c;
      }
      continue;
    }
    // SentencePiece sees spaces as U+2581 ("\xe2\x96\x81") after normalisation; symbols must too.
    std::string escaped;
    for (char c : s) escaped += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
    symbols += (symbols.empty() ? "" : ",") + escaped;
  }
  std::unordered_map<std::string, std::string> kw = {
      {"input", input},
      {"model_prefix", model_prefix},
      {"vocab_size", std::to_string(vocab_size)},
      {"model_type", opts.model_type},
      {"character_coverage", "1.0"},
      {"byte_fallback", opts.byte_fallback ? "true" : "false"},
      {"split_digits", opts.split_digits ? "true" : "false"},
      {"hard_vocab_limit", opts.hard_vocab_limit ? "true" : "false"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"unk_piece", cfg.unk_piece},
      {"bos_piece", cfg.bos_piece},
      {"eos_piece", cfg.eos_piece},
      {"pad_piece", cfg.pad_piece},
      {"user_defined_symbols", symbols},
      {"num_threads", std::to_string(opts.num_threads)},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"max_sentence_length", std::to_string(opts.max_sentence_length)},
      {"minloglevel", "1"},
  };
  if (!required.empty()) kw["required_chars"] = required;
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : kw) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  char err[1024] = {0};
  const int rc = spm_library().train(keys.data(), values.data(), keys.size(), err, sizeof(err));
  MM_CHECK(rc == 0, "{}: SentencePiece training failed ({})", model_prefix, err);
  const std::string model = model_prefix + ".model";
  const int64_t got = Tokenizer::load(cfg, model).vocab_size();
  mm::log::get("tokenizer")
      ->info("trained {} ({} file(s), vocab {} of {} asked)", model, text_files.size(), got, vocab_size);
  return model;
}

}  // namespace mm::tok
