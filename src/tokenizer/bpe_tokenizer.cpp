// BpeTokenizer: loading a Hugging Face tokenizer.json, encoding (added tokens, NFC, pre-tokenizer, BPE merges) and
// decoding (the ByteLevel decoder). The Unicode pieces are in bpe_text.cpp.
#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/check.h"

namespace mm::tok {

using bpe_detail::AddedToken;
using bpe_detail::Section;
using nlohmann::json;

namespace {

enum Kind : uint8_t { kNone = 0, kModel = 1, kAdded = 2, kSpecial = 3 };

struct PreStep {
  std::shared_ptr<const bpe_detail::Regex> regex;  // Split, or ByteLevel's GPT-2 pattern when use_regex
  bool byte_level = false, add_prefix_space = false;
};

constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr size_t kMaxCachedWord = 256, kMaxCacheEntries = 1 << 16;

}  // namespace

struct BpeTokenizer::Impl {
  std::string origin;
  std::unordered_map<std::string, int32_t> ids;      // model vocab and added tokens
  std::unordered_map<std::string, int32_t> raw_ids;  // with ignore_merges: a model token's bytes -> its id
  std::vector<std::string> tokens;                   // by id
  std::vector<uint8_t> kinds;                        // Kind by id
  bpe_detail::MergeMap merges;
  int32_t byte_ids[256] = {};
  std::string byte_chars[256];
  std::unordered_map<uint32_t, uint8_t> char_bytes;
  bool ignore_merges = false, nfc = false;
  std::vector<PreStep> steps;
  std::vector<AddedToken> added;
  bool added_first_byte[256] = {};  // some added token starts with this byte
  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    MM_FAIL("{}: {} {}", origin, key, msg);
  }
  void load(const json& j);
  void load_model(const json& m);
  void load_normalizer(const json& n, const std::string& key);
  void load_pre_tokenizer(const json& p, const std::string& key);
  std::vector<Section> split_added(std::string_view text, bool normalized_pass, bool allow_special) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<int32_t> bpe(const std::string& word) const;
};

namespace {

const json& member(const json& obj, const char* name) {
  static const json null_json;
  const auto it = obj.find(name);
  return it == obj.end() ? null_json : *it;
}

bool flag(const json& obj, const char* name, bool fallback) {
  const json& v = member(obj, name);
  return v.is_boolean() ? v.get<bool>() : fallback;
}

}  // namespace

void BpeTokenizer::Impl::load_model(const json& m) {
  if (!m.is_object()) fail("model", "is missing");
  const json& type = member(m, "type");
  if (!type.is_string() || type.get<std::string>() != "BPE")
    fail("model.type", fmt::format("is {}; only BPE is supported", type.dump()));
  if (flag(m, "byte_fallback", false)) fail("model.byte_fallback", "is true; only byte-level BPE (false) is supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json& v = member(m, key);
    if (v.is_string() && !v.get<std::string>().empty()) fail(std::string("model.") + key, "is not supported");
  }
  const json& dropout = member(m, "dropout");
  if (dropout.is_number() && dropout.get<double>() > 0) fail("model.dropout", "is not supported");
  ignore_merges = flag(m, "ignore_merges", false);
  const json& vocab = member(m, "vocab");
  if (!vocab.is_object()) fail("model.vocab", "is not an object of token -> id");
  for (const auto& [tok, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      fail("model.vocab", fmt::format("has a bad id for {}", json(tok).dump()));
    const auto i = id.get<int32_t>();
    if (static_cast<size_t>(i) >= tokens.size()) tokens.resize(i + 1), kinds.resize(i + 1, kNone);
    tokens[i] = tok;
    kinds[i] = kModel;
    ids[tok] = i;
  }
  // GPT-2's byte <-> printable character table.
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    const uint32_t cp = printable ? b : next++;
    byte_chars[b] = bpe_detail::utf8_of(cp);
    char_bytes[cp] = static_cast<uint8_t>(b);
    const auto it = ids.find(byte_chars[b]);
    if (it == ids.end()) fail("model.vocab", fmt::format("lacks the byte-level symbol of byte 0x{:02X}", b));
    byte_ids[b] = it->second;
  }
  const json& merge_list = member(m, "merges");
  if (!merge_list.is_array()) fail("model.merges", "is not a list");
  merges.reserve(merge_list.size());
  for (size_t r = 0; r < merge_list.size(); ++r) {
    const json& e = merge_list[r];
    std::string a, b;
    if (e.is_string()) {
      const auto s = e.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(fmt::format("model.merges[{}]", r), fmt::format("{} is not two tokens \"a b\"", e.dump()));
      a = s.substr(0, sp), b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      fail(fmt::format("model.merges[{}]", r), fmt::format("{} is neither \"a b\" nor [a, b]", e.dump()));
    }
    for (const std::string& t : {a, b, a + b}) {
      if (ids.count(t) == 0)
        fail(fmt::format("model.merges[{}]", r), fmt::format("{} is not in model.vocab", json(t).dump()));
    }
    const uint64_t key = (static_cast<uint64_t>(ids[a]) << 32) | static_cast<uint32_t>(ids[b]);
    merges.emplace(key, std::make_pair(static_cast<int32_t>(r), ids[a + b]));  // the first (lowest) rank wins
  }
}

void BpeTokenizer::Impl::load_normalizer(const json& n, const std::string& key) {
  if (n.is_null()) return;
  const json& type = member(n, "type");
  const std::string t = type.is_string() ? type.get<std::string>() : type.dump();
  if (t == "NFC") {
    nfc = true;
  } else if (t == "Sequence") {
    const json& list = member(n, "normalizers");
    if (!list.is_array()) fail(key + ".normalizers", "is not a list");
    for (size_t i = 0; i < list.size(); ++i) load_normalizer(list[i], fmt::format("{}.normalizers[{}]", key, i));
  } else {
    fail(key + ".type", fmt::format("'{}' is not supported (null, NFC or a Sequence of those)", t));
  }
}

void BpeTokenizer::Impl::load_pre_tokenizer(const json& p, const std::string& key) {
  if (p.is_null()) return;
  const json& type = member(p, "type");
  const std::string t = type.is_string() ? type.get<std::string>() : type.dump();
  if (t == "Sequence") {
    const json& list = member(p, "pretokenizers");
    if (!list.is_array()) fail(key + ".pretokenizers", "is not a list");
    for (size_t i = 0; i < list.size(); ++i) load_pre_tokenizer(list[i], fmt::format("{}.pretokenizers[{}]", key, i));
  } else if (t == "ByteLevel") {
    if (!steps.empty() && steps.back().byte_level) fail(key, "is a second ByteLevel; one is supported");
    PreStep s;
    s.byte_level = true;
    s.add_prefix_space = flag(p, "add_prefix_space", false);
    if (flag(p, "use_regex", true)) s.regex = std::make_shared<const bpe_detail::Regex>(kGpt2Pattern);
    steps.push_back(std::move(s));
  } else if (t == "Split") {
    if (!steps.empty() && steps.back().byte_level) fail(key, "is a Split after ByteLevel; not supported");
    const json& behavior = member(p, "behavior");
    if (!behavior.is_string() || behavior.get<std::string>() != "Isolated")
      fail(key + ".behavior", fmt::format("is {}; only Isolated is supported", behavior.dump()));
    if (flag(p, "invert", false)) fail(key + ".invert", "is true; only false is supported");
    const json& pat = member(p, "pattern");
    const json& regex = member(pat, "Regex");
    const json& literal = member(pat, "String");
    if (!regex.is_string() && !literal.is_string()) fail(key + ".pattern", "has neither Regex nor String");
    PreStep s;
    try {
      s.regex = std::make_shared<const bpe_detail::Regex>(
          regex.is_string() ? regex.get<std::string>() : literal.get<std::string>(), !regex.is_string());
    } catch (const Error& e) {
      fail(key + ".pattern", "does not compile: " + without_location(e.what()));
    }
    steps.push_back(std::move(s));
  } else {
    fail(key + ".type", fmt::format("'{}' is not supported (Split, ByteLevel or a Sequence of those)", t));
  }
}

void BpeTokenizer::Impl::load(const json& j) {
  if (!j.is_object()) fail("(top level)", "is not a JSON object");
  load_model(member(j, "model"));
  load_normalizer(member(j, "normalizer"), "normalizer");
  load_pre_tokenizer(member(j, "pre_tokenizer"), "pre_tokenizer");
  bool has_byte_level = false;
  for (const PreStep& s : steps) has_byte_level = has_byte_level || s.byte_level;
  if (!has_byte_level) fail("pre_tokenizer", "has no ByteLevel step; only byte-level BPE is supported");
  const json& dec = member(j, "decoder");
  if (!dec.is_null() && (!member(dec, "type").is_string() || member(dec, "type").get<std::string>() != "ByteLevel"))
    fail("decoder.type", fmt::format("is {}; only ByteLevel (or null) is supported", member(dec, "type").dump()));
  const json& list = member(j, "added_tokens");
  if (!list.is_null() && !list.is_array()) fail("added_tokens", "is not a list");
  for (size_t i = 0; list.is_array() && i < list.size(); ++i) {
    const json& e = list[i];
    const std::string key = fmt::format("added_tokens[{}]", i);
    const json& id = member(e, "id");
    const json& content = member(e, "content");
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      fail(key + ".id", "is not a valid id");
    if (!content.is_string() || content.get<std::string>().empty()) fail(key + ".content", "is not a non-empty string");
    AddedToken t;
    t.id = id.get<int32_t>();
    t.content = sanitize_utf8(content.get<std::string>());
    t.special = flag(e, "special", false);
    t.lstrip = flag(e, "lstrip", false), t.rstrip = flag(e, "rstrip", false);
    t.single_word = flag(e, "single_word", false);
    t.normalized = flag(e, "normalized", !t.special);
    if (static_cast<size_t>(t.id) >= tokens.size()) tokens.resize(t.id + 1), kinds.resize(t.id + 1, kNone);
    tokens[t.id] = t.content;
    kinds[t.id] = t.special ? kSpecial : kAdded;
    ids[t.content] = t.id;
    if (t.normalized && nfc) t.content = bpe_detail::nfc(t.content);
    added_first_byte[static_cast<unsigned char>(t.content[0])] = true;
    added.push_back(std::move(t));
  }
  for (size_t id = 0; ignore_merges && id < tokens.size(); ++id) {  // the bytes of each model token
    if (kinds[id] != kModel) continue;
    std::string raw;
    bool byte_level = true;  // otherwise no piece of input can equal it
    for (size_t pos = 0; pos < tokens[id].size() && byte_level;) {
      uint32_t cp = 0;
      pos += bpe_detail::next_codepoint(tokens[id], pos, cp);
      const auto it = char_bytes.find(cp);
      byte_level = it != char_bytes.end();
      if (byte_level) raw += static_cast<char>(it->second);
    }
    if (byte_level) raw_ids.emplace(std::move(raw), static_cast<int32_t>(id));
  }
  // Longest first: the earliest match wins at a position, and the longest among those.
  std::stable_sort(added.begin(), added.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
}

std::vector<Section> BpeTokenizer::Impl::split_added(std::string_view text, bool normalized_pass,
                                                     bool allow_special) const {
  return bpe_detail::split_added(text, added, added_first_byte, [&](const AddedToken& t) {
    return (t.normalized && nfc) == normalized_pass && (t.special ? allow_special : true);
  });
}

std::vector<int32_t> BpeTokenizer::Impl::bpe(const std::string& word) const {
  if (ignore_merges) {
    const auto it = raw_ids.find(word);
    if (it != raw_ids.end()) return {it->second};
  }
  std::vector<int32_t> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i) symbols[i] = byte_ids[static_cast<unsigned char>(word[i])];
  return bpe_detail::merge_word(std::move(symbols), merges);
}

void BpeTokenizer::Impl::encode_piece(std::string_view text, std::vector<int32_t>& out) const {
  // Pre-tokenization into views of `text` (or of `owned`, where add_prefix_space inserted a space): no copies.
  std::deque<std::string> owned;
  std::vector<std::string_view> pieces{text}, next;
  for (const PreStep& step : steps) {
    next.clear();
    for (std::string_view p : pieces) {
      if (step.add_prefix_space && (p.empty() || p[0] != ' ')) p = owned.emplace_back(" ").append(p);
      if (step.regex)
        step.regex->split(p, next);
      else
        next.push_back(p);
    }
    pieces.swap(next);
  }
  thread_local std::string word;  // the cache's key, its capacity reused
  for (const std::string_view p : pieces) {
    if (p.empty()) continue;
    word.assign(p.data(), p.size());
    if (p.size() <= kMaxCachedWord) {
      std::lock_guard<std::mutex> lock(mu);
      const auto it = cache.find(word);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::vector<int32_t> ids = bpe(word);
    out.insert(out.end(), ids.begin(), ids.end());
    if (p.size() <= kMaxCachedWord) {
      std::lock_guard<std::mutex> lock(mu);
      if (cache.size() >= kMaxCacheEntries) cache.clear();
      cache.emplace(word, std::move(ids));
    }
  }
}

BpeTokenizer BpeTokenizer::from_json(const std::string& json_text, const std::string& origin) {
  auto impl = std::make_shared<Impl>();
  impl->origin = origin;
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    MM_FAIL("{}: not valid JSON: {}", origin, e.what());
  }
  impl->load(j);
  BpeTokenizer t;
  t.impl_ = std::move(impl);
  return t;
}

BpeTokenizer BpeTokenizer::load(const std::string& tokenizer_json_path) {
  std::ifstream in(tokenizer_json_path, std::ios::binary);
  MM_CHECK(in.good(), "{}: cannot open the tokenizer.json", tokenizer_json_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), tokenizer_json_path);
}

const std::string& BpeTokenizer::origin() const {
  static const std::string none;
  return impl_ ? impl_->origin : none;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool allow_special) const {
  MM_CHECK(impl_ != nullptr, "BpeTokenizer::encode on a tokenizer that was not loaded");
  const std::string valid = sanitize_utf8(text);
  std::vector<int32_t> out;
  for (const Section& s : impl_->split_added(valid, false, allow_special)) {
    if (s.text.empty()) continue;  // all of it stripped by an lstrip / rstrip token
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    const std::string normalized = impl_->nfc ? bpe_detail::nfc(s.text) : std::string(s.text);
    for (const Section& t : impl_->split_added(normalized, true, allow_special)) {
      if (t.id >= 0)
        out.push_back(t.id);
      else if (!t.text.empty())
        impl_->encode_piece(t.text, out);
    }
  }
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  MM_CHECK(impl_ != nullptr, "BpeTokenizer::decode on a tokenizer that was not loaded");
  std::string out, bytes;
  for (const int32_t id : ids) {
    MM_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->kinds.size() && impl_->kinds[id] != kNone,
             "{}: token id {} is not in the vocabulary (size {})", impl_->origin, id, impl_->kinds.size());
    const std::string& tok = impl_->tokens[id];
    if (impl_->kinds[id] != kModel) {
      if (skip_special && impl_->kinds[id] == kSpecial) continue;
      out += sanitize_utf8(bytes);
      bytes.clear();
      out += tok;
      continue;
    }
    for (size_t pos = 0; pos < tok.size();) {
      uint32_t cp = 0;
      const int n = bpe_detail::next_codepoint(tok, pos, cp);
      const auto it = impl_->char_bytes.find(cp);
      if (it != impl_->char_bytes.end())
        bytes += static_cast<char>(it->second);
      else
        bytes.append(tok, pos, n);
      pos += n;
    }
  }
  return out + sanitize_utf8(bytes);
}

int32_t BpeTokenizer::token_to_id(std::string_view token) const {
  if (!impl_) return -1;
  const auto it = impl_->ids.find(std::string(token));
  return it == impl_->ids.end() ? -1 : it->second;
}

std::string BpeTokenizer::id_to_token(int32_t id) const {
  if (!impl_ || id < 0 || static_cast<size_t>(id) >= impl_->tokens.size()) return "";
  return impl_->tokens[id];
}

size_t BpeTokenizer::vocab_size() const { return impl_ ? impl_->tokens.size() : 0; }

bool BpeTokenizer::is_special(int32_t id) const {
  return impl_ && id >= 0 && static_cast<size_t>(id) < impl_->kinds.size() && impl_->kinds[id] == kSpecial;
}

}  // namespace mm::tok
