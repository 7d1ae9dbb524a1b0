// Tokenizer: a SentencePiece model plus the ids of the special tokens a TokenizerConfig names.
// Cheap to copy (the processor is shared, immutable) and safe to use from several threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/tokenizer_config.h"

struct mm_spm;

namespace mm::tok {

class Tokenizer {
 public:
  Tokenizer() = default;

  // Loads `cfg.model_path` (or `path` when given). Fails with one line naming the file when it
  // cannot be read, or when the image token is not a single piece of the model.
  static Tokenizer load(const TokenizerConfig& cfg, const std::string& path = "");
  // The same from the bytes of a .model file (checkpoints carry the tokenizer model).
  static Tokenizer from_bytes(const TokenizerConfig& cfg, const std::string& model_bytes,
                              const std::string& origin = "<bytes>");

  bool loaded() const { return sp_ != nullptr; }
  const TokenizerConfig& config() const { return cfg_; }
  const std::string& origin() const { return origin_; }
  std::string model_bytes() const;  // the serialized .model

  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;  // control pieces (bos/eos/pad) decode to ""
  std::string id_to_piece(int32_t id) const;
  int32_t piece_to_id(std::string_view piece) const;  // -1 when not in the vocabulary; ' ' means U+2581
  int64_t vocab_size() const;
  bool is_control(int32_t id) const;  // bos, eos, pad
  bool is_byte(int32_t id) const;     // byte-fallback pieces <0x00>..<0xFF>
  // True when `text` always encodes to exactly one piece, also between other characters (the
  // property of a user-defined symbol): such a token can never be split by the data.
  bool is_atomic(std::string_view text) const;

  int32_t unk_id() const { return unk_id_; }
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }  // eos when the model has no pad piece
  int32_t image_id() const { return image_id_; }

 private:
  std::shared_ptr<const mm_spm> sp_;  // a SentencePieceProcessor inside the isolated module
  TokenizerConfig cfg_;
  std::string origin_;
  int32_t unk_id_ = -1, bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, image_id_ = -1;
  void resolve_ids();
  static Tokenizer make(const TokenizerConfig& cfg, const std::string& data, bool from_file, const std::string& origin);
};

}  // namespace mm::tok
