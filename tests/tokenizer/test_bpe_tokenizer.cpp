// Byte-level BPE from tokenizer.json: ids identical to Hugging Face's own JS tokenizers on the golden files
// (scripts/golden/bpe/gen_bpe_golden.mjs), round trips, and one-line errors for what is refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "tokenizer/bpe_tokenizer.h"

using mm::tok::BpeTokenizer;
using nlohmann::json;

namespace {

const std::string kDir = std::string(MM_TEST_DATA_DIR) + "/golden/bpe/";

json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// The message of the mm::Error that loading `j` throws ("" when it loads).
std::string load_error(const json& j) {
  try {
    BpeTokenizer::from_json(j.dump(), "bad.tokenizer.json");
  } catch (const mm::Error& e) {
    return mm::without_location(e.what());
  }
  return "";
}

void check_one_line(const std::string& msg, const std::string& key) {
  INFO(msg);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.find("bad.tokenizer.json") != std::string::npos);
  CHECK(msg.find(key) != std::string::npos);
}

}  // namespace

TEST_CASE("BPE: ids and decoded text identical to @huggingface/tokenizers", "[tokenizer][bpe]") {
  const json golden = read_json(kDir + "bpe_golden.json");
  size_t identical = 0, total = 0;
  for (const char* style : {"gpt2", "llama3", "qwen2"}) {
    const BpeTokenizer tok = BpeTokenizer::load(kDir + style + ".tokenizer.json");
    for (const json& e : golden["styles"][style]) {
      const std::string text = e["text"].get<std::string>();
      INFO(style << ": " << text);
      const auto want = e["ids"].get<std::vector<int32_t>>();
      const auto ids = tok.encode(text);
      CHECK(ids == want);
      CHECK(tok.decode(ids) == e["decoded"].get<std::string>());
      CHECK(tok.decode(ids, true) == e["decoded_skip"].get<std::string>());
      identical += ids == want ? 1 : 0;
      ++total;
    }
  }
  CHECK(identical == total);
  CHECK(total == 84);
}

TEST_CASE("BPE: round trip, vocabulary queries, special tokens", "[tokenizer][bpe]") {
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "qwen2.tokenizer.json");
  for (const std::string text : {"Hello world", "a  b\n\n c", "你好 😀", "<|im_start|>user\nHi<|im_end|>", ""})
    CHECK(tok.decode(tok.encode(text)) == text);
  const int32_t im_start = tok.token_to_id("<|im_start|>");
  REQUIRE(im_start >= 0);
  CHECK(tok.id_to_token(im_start) == "<|im_start|>");
  CHECK(tok.is_special(im_start));
  CHECK_FALSE(tok.is_special(tok.token_to_id("<tool_call>")));
  CHECK(tok.token_to_id("no such token") == -1);
  CHECK(tok.id_to_token(-1).empty());
  CHECK(tok.vocab_size() == static_cast<size_t>(tok.token_to_id("<tool_call>")) + 1);
  CHECK(tok.token_to_id("\xC4\xA0") == 220);  // 'Ġ', the byte-level form of ' '
  CHECK(tok.encode("<|im_start|>") == std::vector<int32_t>{im_start});
  // With allow_special = false the special token is ordinary text; non-special added tokens still match.
  const auto plain = tok.encode("<|im_start|><tool_call>", false);
  CHECK(plain.size() > 2);
  CHECK(std::find(plain.begin(), plain.end(), im_start) == plain.end());
  CHECK(plain.back() == tok.token_to_id("<tool_call>"));
  CHECK(tok.decode(plain) == "<|im_start|><tool_call>");
  CHECK(tok.decode(tok.encode("x<|im_end|>y"), true) == "xy");
  // Copies share the tables.
  const BpeTokenizer copy = tok;
  CHECK(copy.encode("Hello world") == tok.encode("Hello world"));
}

TEST_CASE("BPE: added tokens with single_word, lstrip and rstrip", "[tokenizer][bpe]") {
  json j = read_json(kDir + "gpt2.tokenizer.json");
  const auto next = static_cast<int32_t>(BpeTokenizer::from_json(j.dump()).vocab_size());
  const auto token = [](int32_t id, const char* content, bool single_word, bool rstrip) {
    return json{{"id", id},        {"content", content}, {"single_word", single_word},
                {"lstrip", false}, {"rstrip", rstrip},   {"normalized", false},
                {"special", false}};
  };
  j["added_tokens"].push_back(token(next, "foo", true, false));
  j["added_tokens"].push_back(token(next + 1, "<r>", false, true));
  const BpeTokenizer tok = BpeTokenizer::from_json(j.dump());
  const auto alone = tok.encode("a foo b");
  CHECK(std::find(alone.begin(), alone.end(), next) != alone.end());
  const auto inside = tok.encode("afoob");
  CHECK(std::find(inside.begin(), inside.end(), next) == inside.end());
  auto want = std::vector<int32_t>{next + 1};
  for (const int32_t id : tok.encode("x")) want.push_back(id);
  CHECK(tok.encode("<r>  \n x") == want);
  const auto mask = tok.token_to_id("<mask>");  // lstrip: the spaces before it go
  CHECK(tok.encode("a   <mask>") == std::vector<int32_t>{tok.token_to_id("a"), mask});
}

TEST_CASE("BPE: invalid UTF-8 becomes U+FFFD", "[tokenizer][bpe]") {
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "gpt2.tokenizer.json");
  CHECK(tok.encode("a\xFF b") == tok.encode("a\xEF\xBF\xBD b"));
  CHECK(tok.decode(tok.encode("a\xFF b\xE4\xBD")) == "a\xEF\xBF\xBD b\xEF\xBF\xBD");
  CHECK(mm::tok::sanitize_utf8("\xE0\x80x\xF0\x9F\x98") == "\xEF\xBF\xBD\xEF\xBF\xBDx\xEF\xBF\xBD");
  // A character cut between ids decodes lossily; the whole sequence decodes exactly.
  const auto ids = tok.encode("你");
  REQUIRE(ids.size() > 1);
  CHECK(tok.decode(ids) == "你");
  CHECK(tok.decode({ids[0]}).find("\xEF\xBF\xBD") != std::string::npos);
  try {
    (void)tok.decode({static_cast<int32_t>(tok.vocab_size())});
    FAIL("no error for an id outside the vocabulary");
  } catch (const mm::Error& e) {
    CHECK(std::string(e.what()).find("not in the vocabulary") != std::string::npos);
  }
}

TEST_CASE("BPE: what is refused, with one line naming the file and key", "[tokenizer][bpe]") {
  try {
    (void)BpeTokenizer::load(kDir + "missing.tokenizer.json");
    FAIL("no error for a missing file");
  } catch (const mm::Error& e) {
    CHECK(std::string(e.what()).find("missing.tokenizer.json") != std::string::npos);
  }
  const json base = read_json(kDir + "gpt2.tokenizer.json");
  CHECK(load_error(base).empty());
  json j = base;
  j["normalizer"] = {{"type", "NFKC"}};
  check_one_line(load_error(j), "normalizer.type 'NFKC'");
  j = base;
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}};
  check_one_line(load_error(j), "normalizer.normalizers[1].type 'Lowercase'");
  j = base;
  j["model"]["type"] = "Unigram";
  check_one_line(load_error(j), "model.type");
  j = base;
  j["model"]["byte_fallback"] = true;
  check_one_line(load_error(j), "model.byte_fallback");
  j = base;
  j["model"]["merges"][3] = "\xC4\xA0 nosuchtoken";
  check_one_line(load_error(j), "model.merges[3]");
  j = base;
  j["model"]["merges"][0] = "abc";
  check_one_line(load_error(j), "model.merges[0]");
  j = base;
  j["model"]["vocab"].erase("\xC4\xA0");
  check_one_line(load_error(j), "model.vocab");
  j = base;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
  check_one_line(load_error(j), "pre_tokenizer.type 'Metaspace'");
  j = base;
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", {{{"type", "Digits"}}, {{"type", "ByteLevel"}, {"use_regex", true}}}}};
  check_one_line(load_error(j), "pre_tokenizer.pretokenizers[0].type 'Digits'");
  j = base;
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  check_one_line(load_error(j), "pre_tokenizer.pattern");
  j = base;
  j["decoder"] = {{"type", "Metaspace"}};
  check_one_line(load_error(j), "decoder.type");
  const std::string not_json = [] {
    try {
      BpeTokenizer::from_json("{\"model\": ", "bad.tokenizer.json");
    } catch (const mm::Error& e) {
      return mm::without_location(e.what());
    }
    return std::string();
  }();
  check_one_line(not_json, "not valid JSON");
}

TEST_CASE("BPE: long inputs round-trip", "[tokenizer][bpe]") {
  const BpeTokenizer tok = BpeTokenizer::load(kDir + "llama3.tokenizer.json");
  std::string text;
  for (int k = 0; k < 2000; ++k) text += "The café's 12345 tokens — 你好 😀<|eot_id|>\n  ";
  const auto ids = tok.encode(text);
  CHECK(tok.decode(ids) == text);
  std::string word;  // one pre-token, too long for the cache: the heap merges it
  for (int k = 0; k < 7000; ++k) word += "the";
  CHECK(tok.decode(tok.encode(word)) == word);
  CHECK(tok.encode(word).size() < word.size());
}

TEST_CASE("BPE: ByteLevel add_prefix_space puts a space before every piece that lacks one", "[tokenizer][bpe]") {
  const json base = read_json(kDir + "gpt2.tokenizer.json");
  const auto with = [&](const json& pre) {
    json j = base;
    j["pre_tokenizer"] = pre;
    return BpeTokenizer::from_json(j.dump());
  };
  const auto byte_level = [](bool prefix, bool regex) {
    return json{{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"use_regex", regex}};
  };
  const BpeTokenizer plain = with(byte_level(false, true));
  CHECK(with(byte_level(true, true)).encode("Hello world") == plain.encode(" Hello world"));
  CHECK(with(byte_level(true, true)).encode(" Hello") == plain.encode(" Hello"));
  // After a Split, each piece gets its own space (as Hugging Face's ByteLevel does per split).
  const json split = {{"type", "Split"}, {"pattern", {{"String", "|"}}}, {"behavior", "Isolated"}};
  const BpeTokenizer pieces = with({{"type", "Sequence"}, {"pretokenizers", {split, byte_level(true, false)}}});
  const BpeTokenizer whole = with(byte_level(false, false));
  std::vector<int32_t> want;
  for (const char* p : {" ab", " |", " 12"}) {
    const auto ids = whole.encode(p);
    want.insert(want.end(), ids.begin(), ids.end());
  }
  CHECK(pieces.encode("ab|12") == want);
}
