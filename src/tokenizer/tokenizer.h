// Tokenizer: a SentencePiece model or a byte-level BPE tokenizer.json (Hugging Face), plus the ids of
// the special tokens a TokenizerConfig names. mmtrain's special tokens (the image placeholder, the
// tile indicators, the chat template's role markers) that the file lacks are ADDED with ids after its
// vocabulary (SentencePiece: user-defined pieces appended to the ModelProto; BPE: special added
// tokens appended to the tokenizer.json), so hub tokenizers load as they are (docs/tokenizer.md).
// Cheap to copy (the tables are shared, immutable) and safe to use from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/tokenizer_config.h"

struct mm_spm;

namespace mm::tok {

class BpeTokenizer;

class Tokenizer {
 public:
  Tokenizer() = default;

  // Loads `cfg.model_path` (or `path` when given): a SentencePiece .model, or a tokenizer.json (by
  // its name or its first character '{'). A tokenizer_config.json next to it gives bos/eos/pad (BPE)
  // and the chat template `auto` recognises. Fails with one line naming the file when it cannot be
  // read, or when the image token is not a single unsplittable token after adding.
  static Tokenizer load(const TokenizerConfig& cfg, const std::string& path = "");
  // The same from the bytes model_bytes() returned (checkpoints carry them): a .model, or a
  // tokenizer.json with mmtrain's "mmtrain" entry (bos/eos/pad, the folder's chat template).
  static Tokenizer from_bytes(const TokenizerConfig& cfg, const std::string& model_bytes,
                              const std::string& origin = "<bytes>");

  bool loaded() const { return sp_ != nullptr || bpe_ != nullptr; }
  bool is_bpe() const { return bpe_ != nullptr; }
  std::string kind() const { return is_bpe() ? "bpe" : "sentencepiece"; }
  // The config with tokenizer.chat_template resolved (never "auto").
  const TokenizerConfig& config() const { return cfg_; }
  const std::string& origin() const { return origin_; }
  // The tokenizer as loaded, added tokens included: the .model file's bytes when nothing was added,
  // else the grown ModelProto; for BPE the tokenizer.json text with an "mmtrain" entry.
  const std::string& model_bytes() const { return bytes_; }

  // Added by mmtrain (now or by the run that wrote these bytes), in id order; ids from base_vocab_size().
  const std::vector<std::string>& added_tokens() const { return added_; }
  int64_t base_vocab_size() const { return base_vocab_; }
  // The folder's tokenizer_config.json "chat_template" (jinja), "" when none.
  const std::string& folder_chat_template() const { return folder_template_; }

  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;  // bos/eos/pad (control pieces) decode to ""
  std::string id_to_piece(int32_t id) const;
  // -1 when not in the vocabulary. SentencePiece: ' ' means U+2581. BPE: an added token's text, a
  // token in byte-level form, or text that encodes to one token.
  int32_t piece_to_id(std::string_view piece) const;
  int64_t vocab_size() const;
  bool is_control(int32_t id) const;  // bos, eos, pad (SentencePiece: every control piece)
  bool is_byte(int32_t id) const;     // byte-fallback pieces <0x00>..<0xFF> (never for BPE)
  // True when `text` always encodes to exactly one piece, also between other characters (the
  // property of a user-defined symbol): such a token can never be split by the data.
  bool is_atomic(std::string_view text) const;

  int32_t unk_id() const { return unk_id_; }
  int32_t bos_id() const { return bos_id_; }  // -1 for a BPE tokenizer without one (Qwen2.5)
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }  // eos when the model has no pad piece
  int32_t image_id() const { return image_id_; }

 private:
  std::shared_ptr<const mm_spm> sp_;  // a SentencePieceProcessor inside the isolated module
  std::shared_ptr<const BpeTokenizer> bpe_;
  TokenizerConfig cfg_;
  std::string origin_, bytes_, folder_template_;
  std::vector<std::string> added_;
  int64_t base_vocab_ = 0;
  int32_t unk_id_ = -1, bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, image_id_ = -1;
  static Tokenizer make(const TokenizerConfig& cfg, const std::string& bytes, const std::string& origin,
                        const std::string& sidecar_dir);
  void load_spm(const std::string& bytes);
  void resolve_image_id();
};

}  // namespace mm::tok
