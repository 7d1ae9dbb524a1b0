#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "core/check.h"
#include "tokenizer/spm_library.h"

namespace mm::tok {

Tokenizer Tokenizer::make(const TokenizerConfig& cfg, const std::string& data, bool from_file,
                          const std::string& origin) {
  const SpmLibrary& lib = spm_library();
  char err[512] = {0};
  mm_spm* p = lib.load(data.data(), data.size(), from_file ? 1 : 0, err, sizeof(err));
  MM_CHECK(p, "{}: cannot load the SentencePiece model ({})", origin, err);
  Tokenizer t;
  t.sp_ = std::shared_ptr<const mm_spm>(p, [free = lib.free](const mm_spm* q) { free(const_cast<mm_spm*>(q)); });
  t.cfg_ = cfg;
  t.origin_ = origin;
  t.resolve_ids();
  return t;
}

Tokenizer Tokenizer::load(const TokenizerConfig& cfg, const std::string& path) {
  const std::string file = path.empty() ? cfg.model_path : path;
  MM_CHECK(!file.empty(), "tokenizer.model_path: expected the path of a SentencePiece .model file");
  Tokenizer t = make(cfg, file, true, file);
  t.cfg_.model_path = file;
  return t;
}

Tokenizer Tokenizer::from_bytes(const TokenizerConfig& cfg, const std::string& model_bytes, const std::string& origin) {
  return make(cfg, model_bytes, false, origin);
}

void Tokenizer::resolve_ids() {
  const SpmLibrary& lib = spm_library();
  unk_id_ = lib.special_id(sp_.get(), 0);
  bos_id_ = lib.special_id(sp_.get(), 1);
  eos_id_ = lib.special_id(sp_.get(), 2);
  const int32_t pad = lib.special_id(sp_.get(), 3);
  pad_id_ = pad >= 0 ? pad : eos_id_;
  MM_CHECK(bos_id_ >= 0 && eos_id_ >= 0,
           "{}: the SentencePiece model has no bos/eos pieces (train it with bos_id/eos_id >= 0)", origin_);
  image_id_ = piece_to_id(cfg_.image_token);
  MM_CHECK(image_id_ >= 0 && is_atomic(cfg_.image_token),
           "{}: tokenizer.image_token \"{}\" is not a user-defined symbol of this model (train the model with the "
           "special tokens, see docs/tokenizer.md)",
           origin_, cfg_.image_token);
}

std::string Tokenizer::model_bytes() const {
  MM_CHECK(sp_, "tokenizer not loaded");
  const SpmLibrary& lib = spm_library();
  std::string out(static_cast<size_t>(lib.serialized(sp_.get(), nullptr, 0)), '\0');
  lib.serialized(sp_.get(), out.data(), out.size());
  return out;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  MM_CHECK(sp_, "tokenizer not loaded");
  const SpmLibrary& lib = spm_library();
  char err[512] = {0};
  std::vector<int32_t> ids(text.size() + 8);  // pieces <= bytes (+ room); retried if ever short
  for (;;) {
    const long n = lib.encode(sp_.get(), text.data(), text.size(), ids.data(), ids.size(), err, sizeof(err));
    MM_CHECK(n >= 0, "{}: encoding failed ({})", origin_, err);
    if (static_cast<size_t>(n) <= ids.size()) {
      ids.resize(static_cast<size_t>(n));
      return ids;
    }
    ids.resize(static_cast<size_t>(n));
  }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  MM_CHECK(sp_, "tokenizer not loaded");
  const SpmLibrary& lib = spm_library();
  const int64_t n = vocab_size();
  for (int32_t id : ids) MM_CHECK(id >= 0 && id < n, "token id {} outside the vocabulary [0, {})", id, n);
  char err[512] = {0};
  std::string out(ids.size() * 8 + 16, '\0');
  for (;;) {
    const long len = lib.decode(sp_.get(), ids.data(), ids.size(), out.data(), out.size(), err, sizeof(err));
    MM_CHECK(len >= 0, "{}: decoding failed ({})", origin_, err);
    const bool fits = static_cast<size_t>(len) <= out.size();
    out.resize(static_cast<size_t>(len));
    if (fits) return out;
  }
}

std::string Tokenizer::id_to_piece(int32_t id) const {
  MM_CHECK(sp_, "tokenizer not loaded");
  MM_CHECK(id >= 0 && id < vocab_size(), "token id {} outside the vocabulary [0, {})", id, vocab_size());
  const SpmLibrary& lib = spm_library();
  std::string out(static_cast<size_t>(lib.id_to_piece(sp_.get(), id, nullptr, 0)), '\0');
  lib.id_to_piece(sp_.get(), id, out.data(), out.size());
  return out;
}

int32_t Tokenizer::piece_to_id(std::string_view piece) const {
  MM_CHECK(sp_, "tokenizer not loaded");
  // Pieces store spaces as U+2581, as SentencePiece's normaliser writes them.
  std::string p;
  for (char c : piece) p += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
  const int id = spm_library().piece_to_id(sp_.get(), p.data(), p.size());
  if (id == unk_id_ && id_to_piece(id) != p) return -1;
  return id;
}

int64_t Tokenizer::vocab_size() const {
  MM_CHECK(sp_, "tokenizer not loaded");
  return spm_library().piece_size(sp_.get());
}

bool Tokenizer::is_control(int32_t id) const { return spm_library().is(sp_.get(), id, 0) != 0; }
bool Tokenizer::is_byte(int32_t id) const { return spm_library().is(sp_.get(), id, 1) != 0; }

bool Tokenizer::is_atomic(std::string_view text) const {
  const int32_t id = piece_to_id(text);
  if (id < 0 || is_control(id)) return false;
  const std::string t(text);
  for (const std::string& probe : {t, "a" + t + "a", "1 " + t + " ."}) {
    const auto ids = encode(probe);
    if (std::count(ids.begin(), ids.end(), id) != 1) return false;
  }
  return true;
}

}  // namespace mm::tok
