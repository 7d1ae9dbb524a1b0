#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "core/io.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/hub_tokens.h"
#include "tokenizer/spm_library.h"

namespace fs = std::filesystem;

namespace mm::tok {
namespace {

bool looks_like_json(const std::string& bytes) {
  for (char c : bytes) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{';
  }
  return false;
}

}  // namespace

void Tokenizer::load_spm(const std::string& bytes) {
  const SpmLibrary& lib = spm_library();
  char err[512] = {0};
  mm_spm* p = lib.load(bytes.data(), bytes.size(), 0, err, sizeof(err));
  MM_CHECK(p, "{}: cannot load the SentencePiece model ({})", origin_, err);
  sp_ = std::shared_ptr<const mm_spm>(p, [free = lib.free](const mm_spm* q) { free(const_cast<mm_spm*>(q)); });
}

Tokenizer Tokenizer::make(const TokenizerConfig& cfg, const std::string& bytes, const std::string& origin,
                          const std::string& sidecar_dir) {
  Tokenizer t;
  t.cfg_ = cfg;
  t.origin_ = origin;
  const TokenizerSidecar side = sidecar_dir.empty() ? TokenizerSidecar{} : read_tokenizer_sidecar(sidecar_dir);
  if (!looks_like_json(bytes)) {
    t.load_spm(bytes);
    t.base_vocab_ = t.vocab_size();
    t.folder_template_ = side.chat_template;
    t.cfg_.chat_template = resolve_template_name(cfg.chat_template, side.chat_template, side.file, origin);
    std::vector<std::string> add;
    for (const auto& s : required_tokens(t.cfg_))
      if (t.piece_to_id(s) < 0) add.push_back(s);
    t.bytes_ = bytes;
    if (!add.empty()) {
      t.load_spm(spm_append_user_pieces(bytes, add));
      const SpmLibrary& lib = spm_library();
      t.bytes_.assign(static_cast<size_t>(lib.serialized(t.sp_.get(), nullptr, 0)), '\0');
      lib.serialized(t.sp_.get(), t.bytes_.data(), t.bytes_.size());
      t.added_ = add;
    }
    const SpmLibrary& lib = spm_library();
    t.unk_id_ = lib.special_id(t.sp_.get(), 0);
    t.bos_id_ = lib.special_id(t.sp_.get(), 1);
    t.eos_id_ = lib.special_id(t.sp_.get(), 2);
    const int32_t pad = lib.special_id(t.sp_.get(), 3);
    t.pad_id_ = pad >= 0 ? pad : t.eos_id_;
    MM_CHECK(t.bos_id_ >= 0 && t.eos_id_ >= 0,
             "{}: the SentencePiece model has no bos/eos pieces (train it with bos_id/eos_id >= 0)", origin);
  } else {
    BpeGrowth g = grow_bpe(bytes, origin, side, cfg);
    t.bpe_ = std::make_shared<const BpeTokenizer>(std::move(g.tokenizer));
    t.cfg_.chat_template = g.chat_template;
    t.folder_template_ = g.folder_template;
    t.added_ = std::move(g.added);
    t.base_vocab_ = g.base_vocab;
    t.bytes_ = std::move(g.bytes);
    t.bos_id_ = g.bos_id;
    t.eos_id_ = g.eos_id;
    t.pad_id_ = g.pad_id;
  }
  t.resolve_image_id();
  return t;
}

Tokenizer Tokenizer::load(const TokenizerConfig& cfg, const std::string& path) {
  const std::string file = path.empty() ? cfg.model_path : path;
  MM_CHECK(!file.empty(), "tokenizer.model_path: expected the path of a SentencePiece .model or a tokenizer.json");
  MM_CHECK(fs::is_regular_file(file), "{}: cannot load the tokenizer (no such file)", file);
  Tokenizer t = make(cfg, io::read_file(file), file, fs::path(file).parent_path().string());
  t.cfg_.model_path = file;
  return t;
}

Tokenizer Tokenizer::from_bytes(const TokenizerConfig& cfg, const std::string& model_bytes, const std::string& origin) {
  return make(cfg, model_bytes, origin, "");
}

void Tokenizer::resolve_image_id() {
  image_id_ = piece_to_id(cfg_.image_token);
  MM_CHECK(image_id_ >= 0 && is_atomic(cfg_.image_token),
           "{}: tokenizer.image_token \"{}\" is not a single unsplittable token of this tokenizer (it is in the "
           "vocabulary as ordinary text; see docs/tokenizer.md)",
           origin_, cfg_.image_token);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  MM_CHECK(loaded(), "tokenizer not loaded");
  if (bpe_) return bpe_->encode(text, /*allow_special=*/true);
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
  MM_CHECK(loaded(), "tokenizer not loaded");
  const int64_t n = vocab_size();
  for (int32_t id : ids) MM_CHECK(id >= 0 && id < n, "token id {} outside the vocabulary [0, {})", id, n);
  if (bpe_) {
    std::vector<int32_t> kept;
    kept.reserve(ids.size());
    for (int32_t id : ids)
      if (!is_control(id)) kept.push_back(id);
    return bpe_->decode(kept, /*skip_special=*/false);
  }
  const SpmLibrary& lib = spm_library();
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
  MM_CHECK(loaded(), "tokenizer not loaded");
  MM_CHECK(id >= 0 && id < vocab_size(), "token id {} outside the vocabulary [0, {})", id, vocab_size());
  if (bpe_) return bpe_->id_to_token(id);
  const SpmLibrary& lib = spm_library();
  std::string out(static_cast<size_t>(lib.id_to_piece(sp_.get(), id, nullptr, 0)), '\0');
  lib.id_to_piece(sp_.get(), id, out.data(), out.size());
  return out;
}

int32_t Tokenizer::piece_to_id(std::string_view piece) const {
  MM_CHECK(loaded(), "tokenizer not loaded");
  if (bpe_) {
    const int32_t id = bpe_->token_to_id(piece);
    if (id >= 0 || piece.empty()) return id;
    const auto ids = bpe_->encode(piece, true);
    return ids.size() == 1 ? ids[0] : -1;
  }
  // Pieces store spaces as U+2581, as SentencePiece's normaliser writes them.
  std::string p;
  for (char c : piece) p += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
  const int id = spm_library().piece_to_id(sp_.get(), p.data(), p.size());
  if (id == spm_library().special_id(sp_.get(), 0) && id_to_piece(id) != p) return -1;
  return id;
}

int64_t Tokenizer::vocab_size() const {
  MM_CHECK(loaded(), "tokenizer not loaded");
  if (bpe_) return static_cast<int64_t>(bpe_->vocab_size());
  return spm_library().piece_size(sp_.get());
}

bool Tokenizer::is_control(int32_t id) const {
  if (bpe_) return id >= 0 && (id == bos_id_ || id == eos_id_ || id == pad_id_);
  return spm_library().is(sp_.get(), id, 0) != 0;
}
bool Tokenizer::is_byte(int32_t id) const { return !bpe_ && spm_library().is(sp_.get(), id, 1) != 0; }

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
