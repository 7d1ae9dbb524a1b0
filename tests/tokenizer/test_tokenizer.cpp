// Tests of the SentencePiece wrapper and trainer: special tokens, round trips, determinism, errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "core/check.h"
#include "tests/tokenizer/tokenizer_fixture.h"
#include "tokenizer/special_tokens.h"

using mm::tok::Tokenizer;

namespace {
std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("trained model has the reserved ids and a bounded vocabulary", "[tokenizer]") {
  const Tokenizer& tok = mm::test::test_tokenizer();
  CHECK(tok.unk_id() == 0);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == 3);
  CHECK(tok.id_to_piece(tok.bos_id()) == "<s>");
  CHECK(tok.id_to_piece(tok.eos_id()) == "</s>");
  CHECK(tok.id_to_piece(tok.pad_id()) == "<pad>");
  CHECK(tok.is_control(tok.bos_id()));
  CHECK(tok.vocab_size() > 256 + 80);  // byte pieces + special symbols + learned pieces
  CHECK(tok.vocab_size() <= 600);
  CHECK(tok.piece_to_id("<image>") == tok.image_id());
  CHECK(tok.piece_to_id("no-such-piece-xyz") == -1);
}

TEST_CASE("every special symbol is one token that never splits", "[tokenizer]") {
  const Tokenizer& tok = mm::test::test_tokenizer();
  const auto symbols = mm::tok::special_symbols(tok.config());
  REQUIRE(symbols.size() == 5 + 32 + 17 + 17 + 3);
  for (const auto& s : symbols) {
    INFO("symbol " << s);
    const int32_t id = tok.piece_to_id(s);
    REQUIRE(id >= 0);
    CHECK(tok.encode(s) == std::vector<int32_t>{id});
    CHECK(tok.is_atomic(s));
    // Glued to text on both sides, it still comes out whole.
    for (const std::string& ctx : {"abc" + s + "def", "7" + s + "7", "the" + s + s + " red"}) {
      const auto ids = tok.encode(ctx);
      CHECK(std::count(ids.begin(), ids.end(), id) >= 1);
      CHECK(tok.decode(ids) == ctx);
    }
  }
}

TEST_CASE("encode/decode round-trips text exactly, digits split, unseen characters via bytes", "[tokenizer]") {
  const Tokenizer& tok = mm::test::test_tokenizer();
  for (const std::string& s :
       {std::string("A red circle in the top left."), std::string("  two  spaces\nand a newline"),
        std::string("naïve café 東京 ✓"), std::string("total: 12345")}) {
    INFO(s);
    CHECK(tok.decode(tok.encode(s)) == s);
  }
  const auto digits = tok.encode("12345");
  CHECK(digits.size() == 5);
  // Literal control-piece text in data stays text: it never becomes bos/eos.
  const auto ids = tok.encode("<s>hello</s>");
  CHECK(std::find(ids.begin(), ids.end(), tok.bos_id()) == ids.end());
  CHECK(std::find(ids.begin(), ids.end(), tok.eos_id()) == ids.end());
  CHECK(tok.decode(ids) == "<s>hello</s>");
}

TEST_CASE("training is deterministic for fixed inputs", "[tokenizer]") {
  const std::string dir = mm::test::tokenizer_test_dir();
  const std::string corpus = mm::test::write_tokenizer_corpus(dir);
  // The .model records its training flags (file names included): train twice to the same prefix.
  const std::string a = mm::tok::train_tokenizer({corpus}, dir + "/det", 500);
  const std::string bytes_a = read_bytes(a);
  const std::string b = mm::tok::train_tokenizer({corpus}, dir + "/det", 500);
  REQUIRE(!bytes_a.empty());
  CHECK(bytes_a == read_bytes(b));
  // A different vocabulary size gives a different vocabulary (the comparison above can fail).
  const std::string c = mm::tok::train_tokenizer({corpus}, dir + "/det_c", 395);
  const auto tok_a = Tokenizer::load(mm::TokenizerConfig{}, a);
  const auto tok_c = Tokenizer::load(mm::TokenizerConfig{}, c);
  CHECK(tok_a.vocab_size() != tok_c.vocab_size());
  // Loading from bytes gives the same tokenizer.
  const auto from_file = Tokenizer::load(mm::TokenizerConfig{}, a);
  const auto from_bytes = Tokenizer::from_bytes(mm::TokenizerConfig{}, bytes_a);
  CHECK(from_file.encode("A blue star in the center.") == from_bytes.encode("A blue star in the center."));
  CHECK(from_file.model_bytes() == bytes_a);
}

TEST_CASE("custom special tokens are registered and load checks the image token", "[tokenizer]") {
  const std::string dir = mm::test::tokenizer_test_dir();
  const std::string corpus = mm::test::write_tokenizer_corpus(dir);
  mm::TokenizerConfig cfg;
  cfg.image_token = "<IMG>";
  cfg.user_prefix = "USER: ";
  cfg.sep_col = "|";
  const std::string model = mm::tok::train_tokenizer({corpus}, dir + "/custom", 600, cfg);
  const auto tok = Tokenizer::load(cfg, model);
  CHECK(tok.is_atomic("<IMG>"));
  CHECK(tok.is_atomic("USER: "));
  CHECK(tok.is_atomic("|"));
  CHECK(tok.added_tokens().empty());
  // The default config expects "<image>", which this model lacks: it is added after the vocabulary
  // (as for a hub tokenizer.model), with the other missing symbols.
  const auto other = Tokenizer::load(mm::TokenizerConfig{}, model);
  REQUIRE(!other.added_tokens().empty());
  CHECK(other.added_tokens().front() == "<image>");
  CHECK(other.image_id() == tok.vocab_size());
  CHECK(other.is_atomic("<image>"));
  CHECK(other.vocab_size() == tok.vocab_size() + static_cast<int64_t>(other.added_tokens().size()));
}

TEST_CASE("load and train fail with one line naming the file", "[tokenizer]") {
  const std::string missing = mm::test::tokenizer_test_dir() + "/missing.model";
  try {
    Tokenizer::load(mm::TokenizerConfig{}, missing);
    FAIL("expected an error");
  } catch (const mm::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(missing));
  }
  const std::string missing_txt = mm::test::tokenizer_test_dir() + "/missing.txt";
  try {
    mm::tok::train_tokenizer({missing_txt}, mm::test::tokenizer_test_dir() + "/x", 500);
    FAIL("expected an error");
  } catch (const mm::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(missing_txt) && Catch::Contains("not found"));
  }
  mm::TokenizerConfig empty;
  CHECK_THROWS_WITH(Tokenizer::load(empty), Catch::Contains("tokenizer.model_path"));
}
