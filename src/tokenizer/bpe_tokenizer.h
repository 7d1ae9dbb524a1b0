// BpeTokenizer: a byte-level BPE tokenizer read from a Hugging Face tokenizer.json (GPT-2, Llama 3, Qwen2.5,
// SmolLM2 style). Standalone: not yet used by mm::tok::Tokenizer or training (docs/tokenizer.md).
//
// Supported: model BPE (vocab, merges as "a b" or [a, b], ignore_merges, byte_fallback false), normalizer null /
// NFC / Sequence of those (utf8proc), pre_tokenizer Split{Regex, Isolated, invert false} and
// ByteLevel{add_prefix_space, use_regex} alone or in a Sequence (PCRE2, UTF + UCP), added_tokens (matched whole before
// pre-tokenization, longest first; lstrip, rstrip, normalized, single_word), decoder ByteLevel or null. post_processor
// is ignored: encode() never adds BOS/EOS. Anything else is refused at load with one line naming the file and the JSON
// key.
//
// Invalid UTF-8 given to encode() is not an error: each maximal invalid subsequence becomes U+FFFD (as Python's
// errors="replace" and the WHATWG decoder do), so one bad byte in a corpus does not stop a run. decode() of ids whose
// bytes are not valid UTF-8 (a sequence cut inside a character) replaces them the same way.
//
// Cheap to copy (the tables are shared, immutable) and safe to use from several threads.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mm::tok {

class BpeTokenizer {
 public:
  BpeTokenizer() = default;

  // Reads a tokenizer.json. Fails with one line naming the file (and the JSON key) when it cannot be read or asks for
  // something unsupported.
  static BpeTokenizer load(const std::string& tokenizer_json_path);
  // The same from the JSON text; `origin` names it in errors.
  static BpeTokenizer from_json(const std::string& json_text, const std::string& origin = "<tokenizer.json>");

  bool loaded() const { return impl_ != nullptr; }
  const std::string& origin() const;

  // Text -> ids. Added tokens are matched first, whole; with allow_special = false the special ones are not and their
  // text is encoded as ordinary text (non-special added tokens are always matched).
  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const;
  // Ids -> text; added tokens decode to their content (none for special ones when skip_special). Fails with one line
  // on an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  int32_t token_to_id(std::string_view token) const;  // -1 when none; byte-level form ("Ġthe" for " the")
  std::string id_to_token(int32_t id) const;          // "" when none
  size_t vocab_size() const;                          // largest id + 1 (vocab and added tokens)
  bool is_special(int32_t id) const;                  // an added token marked special

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

// Text -> valid UTF-8: each maximal invalid subsequence becomes U+FFFD (WHATWG / Unicode "maximal subpart").
std::string sanitize_utf8(std::string_view bytes);

// The Unicode pieces BpeTokenizer is built from (bpe_text.cpp: PCRE2, utf8proc); internal.
namespace bpe_detail {

// A PCRE2 pattern compiled in UTF + UCP mode (JIT when available). Thread-safe to use.
class Regex {
 public:
  // `literal`: the pattern is a plain string (Split's {String: ...}). Throws mm::Error with PCRE2's message.
  explicit Regex(const std::string& pattern, bool literal = false);
  // Appends the pieces of valid UTF-8 `text` split "Isolated": each match and each gap between matches, none empty.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  std::shared_ptr<void> code_;
};

std::string nfc(std::string_view valid_utf8);  // Unicode NFC (utf8proc)
// Decodes the code point at `pos` of valid UTF-8 and returns its length in bytes.
int next_codepoint(std::string_view s, size_t pos, uint32_t& cp);
bool is_whitespace(uint32_t cp);  // Unicode White_Space
bool is_word_char(uint32_t cp);   // letters, marks, digits, connector punctuation ('_')
std::string_view trim_whitespace(std::string_view s, bool front, bool back);
std::string utf8_of(uint32_t cp);  // cp < 0x10000

struct AddedToken {
  std::string content;  // NFC'd when normalized and the file asks for NFC
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};
// A piece of text between added tokens (id < 0) or one added token.
struct Section {
  std::string_view text;
  int32_t id = -1;
  const AddedToken* token = nullptr;
};
// Splits `text` at the tokens of `added` (sorted longest first) that `use` accepts: leftmost match, longest there;
// single_word, lstrip and rstrip applied. first_byte[b]: some token starts with byte b.
std::vector<Section> split_added(std::string_view text, const std::vector<AddedToken>& added, const bool* first_byte,
                                 const std::function<bool(const AddedToken&)>& use);

// (left id << 32 | right id) -> (rank, merged id).
using MergeMap = std::unordered_map<uint64_t, std::pair<int32_t, int32_t>>;
// Applies the merges to a word's symbols, lowest rank first and leftmost among equals (as Hugging Face's BPE).
std::vector<int32_t> merge_word(std::vector<int32_t> symbols, const MergeMap& merges);

}  // namespace bpe_detail

}  // namespace mm::tok
