// The Unicode pieces of BpeTokenizer: UTF-8 repair, NFC (utf8proc), regular expressions (PCRE2, UTF + UCP).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <cstdlib>
#include <queue>
#include <tuple>

#include "core/check.h"
#include "tokenizer/bpe_tokenizer.h"

namespace mm::tok {

namespace {

// The length of the valid UTF-8 sequence at `i`, or -(bytes of its maximal invalid subpart) when there is none.
int utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  int need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  int k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) return -k;
    const unsigned char x = b(i + k);
    if (x < lo || x > hi) return -k;
    lo = 0x80, hi = 0xBF;
  }
  return need + 1;
}

}  // namespace

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const int n = utf8_sequence(bytes, i);
    if (n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += -n;
    }
  }
  return out;
}

namespace bpe_detail {

Regex::Regex(const std::string& pattern, bool literal) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2 refuses UCP beside LITERAL (a literal has no classes for UCP to change).
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    MM_FAIL("{} at offset {}", reinterpret_cast<const char*>(msg), offset);
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: the interpreter runs when JIT is unavailable
  code_ = std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
}

void Regex::split(std::string_view text, std::vector<std::string_view>& out) const {
  auto* code = static_cast<const pcre2_code*>(code_.get());
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(pcre2_match_data_create_from_pattern(code, nullptr),
                                                                    pcre2_match_data_free);
  MM_CHECK(md != nullptr, "out of memory for a PCRE2 match");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t prev = 0, start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof(msg));
      MM_FAIL("pre-tokenizer regex failed: {}", reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t s = ov[0], e = ov[1];
    if (s > prev) out.push_back(text.substr(prev, s - prev));
    if (e > s) out.push_back(text.substr(s, e - s));
    prev = e;
    if (e > s) {
      start = e;
    } else {
      if (e >= text.size()) break;
      uint32_t cp = 0;
      start = e + next_codepoint(text, e, cp);
    }
  }
  if (prev < text.size()) out.push_back(text.substr(prev));
}

std::string nfc(std::string_view valid_utf8) {
  bool ascii = true;
  for (const char c : valid_utf8) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii || valid_utf8.empty()) return std::string(valid_utf8);
  utf8proc_uint8_t* dst = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid_utf8.data()),
                                          static_cast<utf8proc_ssize_t>(valid_utf8.size()), &dst,
                                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  MM_CHECK(n >= 0, "NFC normalisation failed: {}", utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

int next_codepoint(std::string_view s, size_t pos, uint32_t& cp) {
  utf8proc_int32_t c = 0;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                                              static_cast<utf8proc_ssize_t>(s.size() - pos), &c);
  if (n <= 0) {  // not expected on repaired text; step one byte
    cp = 0xFFFD;
    return 1;
  }
  cp = static_cast<uint32_t>(c);
  return static_cast<int>(n);
}

bool is_whitespace(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85) return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool is_word_char(uint32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

std::string_view trim_whitespace(std::string_view s, bool front, bool back) {
  size_t begin = 0, end = 0, pos = 0;
  bool seen = false;  // a non-space code point so far
  while (pos < s.size()) {
    uint32_t cp = 0;
    const int n = next_codepoint(s, pos, cp);
    if (!is_whitespace(cp)) {
      if (!seen) begin = pos;
      seen = true;
      end = pos + n;
    }
    pos += n;
  }
  if (!seen) return (front || back) ? s.substr(0, 0) : s;
  return s.substr(front ? begin : 0, (back ? end : s.size()) - (front ? begin : 0));
}

std::string utf8_of(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::vector<Section> split_added(std::string_view text, const std::vector<AddedToken>& added, const bool* first_byte,
                                 const std::function<bool(const AddedToken&)>& use) {
  std::vector<Section> out;
  size_t prev = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* hit = nullptr;
    for (const AddedToken& t : added) {
      if (!first_byte[static_cast<unsigned char>(text[i])]) break;
      if (!use(t)) continue;
      if (text.compare(i, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        uint32_t before = ' ', after = ' ';
        if (i > 0) {
          size_t k = i - 1;
          while (k > 0 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
          next_codepoint(text, k, before);
        }
        if (i + t.content.size() < text.size()) next_codepoint(text, i + t.content.size(), after);
        if (is_word_char(before) || is_word_char(after)) continue;
      }
      hit = &t;
      break;
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    if (i > prev) out.push_back({text.substr(prev, i - prev), -1, nullptr});
    out.push_back({text.substr(i, hit->content.size()), hit->id, hit});
    i += hit->content.size();
    prev = i;
  }
  if (prev < text.size()) out.push_back({text.substr(prev), -1, nullptr});
  for (size_t k = 0; k < out.size(); ++k) {  // lstrip / rstrip swallow the whitespace next to the token
    if (out[k].id < 0) continue;
    const AddedToken* t = out[k].token;
    if (t->lstrip && k > 0 && out[k - 1].id < 0) out[k - 1].text = trim_whitespace(out[k - 1].text, false, true);
    if (t->rstrip && k + 1 < out.size() && out[k + 1].id < 0)
      out[k + 1].text = trim_whitespace(out[k + 1].text, true, false);
  }
  return out;
}

std::vector<int32_t> merge_word(std::vector<int32_t> symbols, const MergeMap& merges) {
  if (symbols.size() < 2) return symbols;
  struct Sym {
    int32_t id, prev, next;
  };
  std::vector<Sym> syms(symbols.size());
  for (size_t i = 0; i < symbols.size(); ++i)
    syms[i] = {symbols[i], static_cast<int32_t>(i) - 1, static_cast<int32_t>(i) + 1};
  syms.back().next = -1;
  using Cand = std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t>;  // rank, pos, merged, left, right
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  const auto push = [&](int32_t pos) {
    const int32_t nx = syms[pos].next;
    if (nx < 0) return;
    const auto it = merges.find((static_cast<uint64_t>(syms[pos].id) << 32) | static_cast<uint32_t>(syms[nx].id));
    if (it != merges.end()) heap.emplace(it->second.first, pos, it->second.second, syms[pos].id, syms[nx].id);
  };
  for (size_t i = 0; i + 1 < syms.size(); ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const auto [rank, pos, merged, left, right] = heap.top();
    heap.pop();
    const int32_t nx = syms[pos].next;
    if (syms[pos].id != left || nx < 0 || syms[nx].id != right) continue;  // stale
    syms[pos].id = merged;
    syms[nx].id = -1;
    syms[pos].next = syms[nx].next;
    if (syms[pos].next >= 0) syms[syms[pos].next].prev = pos;
    if (syms[pos].prev >= 0) push(syms[pos].prev);
    push(pos);
  }
  std::vector<int32_t> out;
  for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
  return out;
}

}  // namespace bpe_detail
}  // namespace mm::tok
