// mm::tok::BpeTokenizer on OpenAI's cl100k_base (100,256 tokens) and o200k_base (199,998), converted to
// tokenizer.json as transformers' TikTokenConverter does, against tiktoken (WASM) and Hugging Face's JS tokenizers,
// token for token over a >= 1 MB mixed corpus. The ctest fixture's setup tests bpe_cl100k.reference and
// bpe_o200k.reference (scripts/golden/bpe/cl100k_reference.mjs, node) write the corpus, the tokenizer.json and both
// implementations' ids into $MM_BPE_CL100K_DIR / $MM_BPE_O200K_DIR (default build/test_tmp/bpe_cl100k, bpe_o200k) and
// check that those two agree; this test encodes the corpus and compares.
// Prints "SKIPPED: ..." (ctest: skipped) only when scripts/golden/bpe/node_modules is missing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/bpe_tokenizer.h"

using mm::tok::BpeTokenizer;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int32_t> read_ids(const fs::path& p) {
  const std::string b = read_bytes(p);
  REQUIRE(b.size() % 4 == 0);
  std::vector<int32_t> ids(b.size() / 4);
  for (size_t i = 0; i < ids.size(); ++i) {  // little-endian int32, whatever the host
    uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[4 * i + k]);
    ids[i] = static_cast<int32_t>(v);
  }
  return ids;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '"' || c == '\\')
      out += std::string("\\") + c;
    else
      out += c;
  }
  return out + "\"";
}

std::string ids_text(const std::vector<int32_t>& ids, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < std::min(to, ids.size()); ++i) s += (s.empty() ? "" : " ") + std::to_string(ids[i]);
  return s;
}

// "" when equal; otherwise the first difference: its index, its byte offset in the corpus, the text before it and
// both sides' next ids with their text.
std::string first_difference(const BpeTokenizer& tok, const std::vector<int32_t>& ours, const std::vector<int32_t>& ref,
                             const std::string& ref_name) {
  size_t i = 0;
  while (i < ours.size() && i < ref.size() && ours[i] == ref[i]) ++i;
  if (i == ours.size() && i == ref.size()) return "";
  const auto slice = [](const std::vector<int32_t>& v, size_t a, size_t b) {
    return std::vector<int32_t>(v.begin() + std::min(a, v.size()), v.begin() + std::min(b, v.size()));
  };
  const size_t offset = tok.decode(slice(ours, 0, i)).size();
  std::ostringstream os;
  os << "ours (" << ours.size() << " ids) and " << ref_name << " (" << ref.size() << " ids) differ first at id " << i
     << ", byte " << offset << " of corpus.txt, after " << quoted(tok.decode(slice(ours, i >= 8 ? i - 8 : 0, i)))
     << "\n  ours:    " << ids_text(ours, i, i + 8) << " = " << quoted(tok.decode(slice(ours, i, i + 8))) << "\n  "
     << ref_name << ": " << ids_text(ref, i, i + 8) << " = " << quoted(tok.decode(slice(ref, i, i + 8)));
  return os.str();
}

// Encodes dir/corpus.txt with dir/tokenizer.json and compares with dir/tiktoken.ids and dir/hf.ids.
void check_against_references(const char* env_var, const std::string& default_dir, size_t vocab_size) {
  const fs::path node_modules = fs::path(MM_SOURCE_DIR) / "scripts/golden/bpe/node_modules";
  if (!fs::exists(node_modules / "tiktoken/package.json") ||
      !fs::exists(node_modules / "@huggingface/tokenizers/package.json")) {
    WARN("SKIPPED: " << node_modules.string() << " lacks tiktoken or @huggingface/tokenizers (npm ci there)");
    return;
  }
  const char* env = std::getenv(env_var);
  const fs::path dir = env != nullptr ? fs::path(env) : fs::path(MM_BINARY_DIR) / "test_tmp" / default_dir;
  for (const char* f : {"corpus.txt", "tokenizer.json", "tiktoken.ids", "hf.ids"}) {
    INFO("run the reference first: ctest -R bpe_ (scripts/golden/bpe/cl100k_reference.mjs " << dir.string() << ")");
    REQUIRE(fs::exists(dir / f));
  }
  const std::string corpus = read_bytes(dir / "corpus.txt");
  REQUIRE(corpus.size() >= 1000000);
  const BpeTokenizer tok = BpeTokenizer::load((dir / "tokenizer.json").string());
  CHECK(tok.vocab_size() == vocab_size);

  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<int32_t> ours = tok.encode(corpus, /*allow_special=*/true);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN(dir.filename().string() << ": " << ours.size() << " ids for " << corpus.size() << " bytes in " << s
                               << " s (cold cache)");

  const std::string vs_tiktoken = first_difference(tok, ours, read_ids(dir / "tiktoken.ids"), "tiktoken");
  const std::string vs_hf = first_difference(tok, ours, read_ids(dir / "hf.ids"), "@huggingface/tokenizers");
  CHECK(vs_tiktoken == "");
  CHECK(vs_hf == "");
  // The corpus is valid UTF-8, so decoding gives it back byte for byte; a second pass (warm cache) is the same.
  CHECK(tok.decode(ours) == corpus);
  CHECK(tok.encode(corpus, true) == ours);
}

}  // namespace

// 100,256 ranks, special tokens up to <|endofprompt|> = 100276.
TEST_CASE("BPE cl100k_base: ids identical to tiktoken and @huggingface/tokenizers on 1 MB",
          "[tokenizer][bpe][cl100k]") {
  check_against_references("MM_BPE_CL100K_DIR", "bpe_cl100k", 100277);
}

// 199,998 ranks, <|endoftext|> = 199999 and <|endofprompt|> = 200018 (o200k's pattern splits at case changes).
TEST_CASE("BPE o200k_base: ids identical to tiktoken and @huggingface/tokenizers on 1 MB", "[tokenizer][bpe][cl100k]") {
  check_against_references("MM_BPE_O200K_DIR", "bpe_o200k", 200019);
}
