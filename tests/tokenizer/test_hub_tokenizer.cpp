// Hub tokenizers as they are (issue 25): a Llama-2-style SentencePiece model without mmtrain's pieces,
// a byte-level BPE tokenizer.json folder (Llama 3 / Qwen2 shaped, tests/data/golden/bpe), mmtrain's
// special tokens added after the vocabulary, the bytes checkpoints carry, the files an export writes,
// and the chat templates llama3 / chatml / mistral against the families' jinja templates rendered by
// jinja2 (scripts/golden/gen_chat_templates.py -> tests/data/golden/chat/templates.json).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io.h"
#include "tests/tokenizer/tokenizer_fixture.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/hub_tokens.h"
#include "tokenizer/sample_encoder.h"
#include "tokenizer/spm_library.h"

namespace fs = std::filesystem;
using mm::tok::Tokenizer;
using nlohmann::json;

namespace {

const std::string kGolden = std::string(MM_TEST_DATA_DIR) + "/golden/";

json golden_templates() { return json::parse(mm::io::read_file(kGolden + "chat/templates.json")); }

// A folder with a tokenizer.json of tests/data/golden/bpe and a tokenizer_config.json.
std::string bpe_folder(const std::string& name, const std::string& style, const json& config) {
  const fs::path dir = fs::path(mm::test::tokenizer_test_dir()) / name;
  fs::create_directories(dir);
  mm::io::write_file_atomic((dir / "tokenizer.json").string(),
                            mm::io::read_file(kGolden + "bpe/" + style + ".tokenizer.json"));
  mm::io::write_file_atomic((dir / "tokenizer_config.json").string(), config.dump(2));
  return (dir / "tokenizer.json").string();
}

std::string llama3_folder(const std::string& name = "llama3") {
  return bpe_folder(name, "llama3",
                    {{"bos_token", "<|begin_of_text|>"},
                     {"eos_token", "<|eot_id|>"},
                     {"chat_template", golden_templates()["templates"]["llama3"]}});
}

// A Llama-2-style SentencePiece model: BPE, dummy prefix, byte fallback, no pad, no user-defined pieces.
std::string llama2_style_model() {
  static const std::string model = [] {
    const std::string dir = mm::test::tokenizer_test_dir();
    const std::string corpus = mm::test::write_tokenizer_corpus(dir);
    const std::string prefix = dir + "/llama2_style";
    const std::vector<std::pair<std::string, std::string>> kw = {{"input", corpus},
                                                                 {"model_prefix", prefix},
                                                                 {"vocab_size", "400"},
                                                                 {"model_type", "bpe"},
                                                                 {"byte_fallback", "true"},
                                                                 {"unk_id", "0"},
                                                                 {"bos_id", "1"},
                                                                 {"eos_id", "2"},
                                                                 {"pad_id", "-1"},
                                                                 {"num_threads", "1"},
                                                                 {"hard_vocab_limit", "false"},
                                                                 {"character_coverage", "1.0"},
                                                                 {"minloglevel", "1"}};
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : kw) keys.push_back(k.c_str()), values.push_back(v.c_str());
    char err[512] = {0};
    const int rc = mm::tok::spm_library().train(keys.data(), values.data(), keys.size(), err, sizeof(err));
    INFO(err);
    REQUIRE(rc == 0);
    return prefix + ".model";
  }();
  return model;
}

struct Sample {
  std::vector<mm::tok::Turn> turns;
  std::vector<int> images;
};

Sample sample_of(const json& messages) {
  Sample s;
  for (const auto& m : messages) {
    const std::string role = m["role"];
    const auto r =
        role == "user" ? mm::tok::Role::User : (role == "assistant" ? mm::tok::Role::Assistant : mm::tok::Role::System);
    const std::string text = m["content"];
    s.turns.push_back({r, text});
    for (size_t p = text.find("<image>"); p != std::string::npos; p = text.find("<image>", p + 1))
      s.images.push_back(0);
  }
  return s;
}

mm::tok::EncodedSample encode(const Tokenizer& tok, const Sample& s) {
  std::vector<mm::tok::ImageLayout> layouts;
  for (size_t k = 0; k < s.images.size(); ++k)
    layouts.push_back(mm::tok::make_image_layout(tok.config(), mm::tok::Indicators::None, k, 0, 0, true));
  return mm::tok::SampleEncoder(tok, 1).encode(s, layouts);
}

}  // namespace

TEST_CASE("A Llama-2-style tokenizer.model without mmtrain's pieces loads with them appended", "[tokenizer][hub]") {
  const std::string file = llama2_style_model();
  const Tokenizer tok = Tokenizer::load(mm::TokenizerConfig{}, file);
  CHECK(tok.kind() == "sentencepiece");
  const int64_t base = tok.base_vocab_size();
  CHECK(base > 256);
  REQUIRE(!tok.added_tokens().empty());
  CHECK(tok.vocab_size() == base + static_cast<int64_t>(tok.added_tokens().size()));
  CHECK(tok.added_tokens().front() == "<image>");
  for (size_t i = 0; i < tok.added_tokens().size(); ++i) {
    INFO(tok.added_tokens()[i]);
    CHECK(tok.piece_to_id(tok.added_tokens()[i]) == base + static_cast<int64_t>(i));
    CHECK(tok.is_atomic(tok.added_tokens()[i]));
  }
  // The pieces the model has as ordinary text (',' and ':' of the seps indicators) are not added.
  CHECK(std::find(tok.added_tokens().begin(), tok.added_tokens().end(), ",") == tok.added_tokens().end());
  CHECK(tok.image_id() == base);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == tok.eos_id());  // no pad piece
  const auto ids = tok.encode("A red circle<image>in the top left.");
  CHECK(std::count(ids.begin(), ids.end(), tok.image_id()) == 1);
  for (int32_t id : ids) CHECK((id < base || id == tok.image_id()));
  // The grown model is what checkpoints carry; loading it adds nothing and gives the same bytes.
  CHECK(tok.model_bytes() != mm::io::read_file(file));
  const Tokenizer again = Tokenizer::from_bytes(mm::TokenizerConfig{}, tok.model_bytes());
  CHECK(again.added_tokens().empty());
  CHECK(again.vocab_size() == tok.vocab_size());
  CHECK(again.model_bytes() == tok.model_bytes());
  CHECK(again.encode("A red circle<image>in the top left.") == ids);
  // The exported folder (tokenizer.model with the pieces, tokenizer_config.json) loads with the same ids.
  const fs::path out = fs::path(mm::test::tokenizer_test_dir()) / "llama2_export";
  fs::create_directories(out);
  for (const auto& [name, content] : mm::tok::hf_tokenizer_files(tok))
    mm::io::write_file_atomic((out / name).string(), content);
  const json tc = json::parse(mm::io::read_file((out / "tokenizer_config.json").string()));
  CHECK(tc["eos_token"] == tok.id_to_piece(tok.eos_id()));
  CHECK(mm::tok::recognise_chat_template(tc["chat_template"]) == "chat");
  const Tokenizer exported = Tokenizer::load(mm::TokenizerConfig{}, (out / "tokenizer.model").string());
  CHECK(exported.model_bytes() == tok.model_bytes());
  CHECK(exported.encode("A red circle<image>in the top left.") == ids);
  // A template whose markers are text (mistral) adds none of the chat markers.
  mm::TokenizerConfig mistral;
  mistral.chat_template = "mistral";
  const Tokenizer m = Tokenizer::load(mistral, file);
  CHECK(m.vocab_size() == tok.vocab_size() - 4);
  CHECK(m.piece_to_id("<|user|>") < 0);
}

TEST_CASE("A byte-level BPE folder: bos/eos from tokenizer_config.json, template auto, tokens added",
          "[tokenizer][hub]") {
  const std::string file = llama3_folder();
  mm::TokenizerConfig cfg;
  cfg.chat_template = "auto";
  const Tokenizer tok = Tokenizer::load(cfg, file);
  const mm::tok::BpeTokenizer raw = mm::tok::BpeTokenizer::load(file);
  CHECK(tok.kind() == "bpe");
  CHECK(tok.config().chat_template == "llama3");
  CHECK(tok.base_vocab_size() == static_cast<int64_t>(raw.vocab_size()));
  CHECK(tok.bos_id() == raw.token_to_id("<|begin_of_text|>"));
  CHECK(tok.eos_id() == raw.token_to_id("<|eot_id|>"));
  CHECK(tok.pad_id() == tok.eos_id());
  // Added: the image token, the index indicators and "<n>"; the llama3 markers are already special tokens.
  const auto& added = tok.added_tokens();
  REQUIRE(added.size() == 1 + 32 + 17 + 17 + 1);
  CHECK(added.front() == "<image>");
  CHECK(added.back() == "<n>");
  CHECK(tok.image_id() == tok.base_vocab_size());
  CHECK(tok.vocab_size() == tok.base_vocab_size() + static_cast<int64_t>(added.size()));
  for (const auto& a : added) CHECK(tok.is_atomic(a));
  // Ordinary text encodes as the file does.
  const std::string text = "The quick brown fox, 12 px: 3.5!\n  done";
  CHECK(tok.encode(text) == raw.encode(text));
  CHECK(tok.decode(tok.encode(text)) == text);
  CHECK(tok.decode({tok.bos_id(), tok.image_id(), tok.eos_id()}) == "<image>");

  // The bytes a checkpoint carries: the same tokenizer without the folder (bos/eos, template, added list).
  const Tokenizer carried = Tokenizer::from_bytes(cfg, tok.model_bytes(), "ckpt/tokenizer.model");
  CHECK(carried.model_bytes() == tok.model_bytes());
  CHECK(carried.added_tokens() == added);
  CHECK(carried.config().chat_template == "llama3");
  CHECK(carried.bos_id() == tok.bos_id());
  CHECK(carried.eos_id() == tok.eos_id());

  // The exported files load as a folder of their own, with the same ids.
  const fs::path out = fs::path(mm::test::tokenizer_test_dir()) / "llama3_export";
  fs::create_directories(out);
  for (const auto& [name, content] : mm::tok::hf_tokenizer_files(tok))
    mm::io::write_file_atomic((out / name).string(), content);
  CHECK(json::parse(mm::io::read_file((out / "tokenizer.json").string())).count("mmtrain") == 0);
  const json tc = json::parse(mm::io::read_file((out / "tokenizer_config.json").string()));
  CHECK(tc["eos_token"] == "<|eot_id|>");
  CHECK(tc["added_tokens_decoder"][std::to_string(tok.image_id())]["content"] == "<image>");
  const Tokenizer reloaded = Tokenizer::load(cfg, (out / "tokenizer.json").string());
  CHECK(reloaded.config().chat_template == "llama3");
  CHECK(reloaded.added_tokens().empty());
  CHECK(reloaded.vocab_size() == tok.vocab_size());
  const std::string special = "<|begin_of_text|>x<image><img_3><row_1><col_2>y<|eot_id|> z";
  CHECK(reloaded.encode(special) == tok.encode(special));
  // And the exported folder through the HF JS port (the independent reader) is not needed here:
  // its tokenizer.json is the input file plus added tokens, which test_bpe_tokenizer covers.
}

TEST_CASE("Hub tokenizer errors are one line naming the file", "[tokenizer][hub]") {
  mm::TokenizerConfig cfg;
  cfg.chat_template = "auto";
  const std::string odd = bpe_folder("odd", "llama3", {{"eos_token", "<|eot_id|>"}, {"chat_template", "{{ x }}"}});
  CHECK_THROWS_WITH(Tokenizer::load(cfg, odd), Catch::Contains("tokenizer_config.json") &&
                                                   Catch::Contains("name one") && Catch::Contains("chatml"));
  const std::string bad_eos = bpe_folder("bad_eos", "llama3", {{"eos_token", "<|nope|>"}});
  CHECK_THROWS_WITH(Tokenizer::load(mm::TokenizerConfig{}, bad_eos),
                    Catch::Contains("eos_token") && Catch::Contains("<|nope|>"));
  // Without tokenizer_config.json: bos/eos from the special added tokens.
  const std::string bare = bpe_folder("bare", "qwen2", json::object());
  fs::remove(fs::path(bare).parent_path() / "tokenizer_config.json");
  const Tokenizer q = Tokenizer::load(mm::TokenizerConfig{}, bare);
  CHECK(q.bos_id() == -1);
  CHECK(q.id_to_piece(q.eos_id()) == "<|endoftext|>");
  CHECK_THROWS_WITH(Tokenizer::load(cfg, bare), Catch::Contains("no chat_template"));
}

TEST_CASE("Chat templates llama3, chatml and mistral render as the families' jinja templates", "[tokenizer][hub]") {
  const json g = golden_templates();
  // The jinja an export writes is the published one (mistral: v0.2 with a system turn, also rendered by jinja2).
  for (const std::string name : {"llama3", "chatml", "mistral"}) {
    mm::TokenizerConfig c;
    c.chat_template = name;
    const std::string jinja = mm::tok::chat_template_jinja(c);
    const std::string tag = "{#- mmtrain: " + name + " -#}";
    REQUIRE(jinja.rfind(tag, 0) == 0);
    CHECK(jinja.substr(tag.size()) == (name == "mistral" ? g["mistral_exported"] : g["templates"][name]));
    CHECK(mm::tok::recognise_chat_template(jinja) == name);
    CHECK(mm::tok::recognise_chat_template(g["templates"][name]) == name);
  }
  const std::string llama3 = llama3_folder("llama3_tmpl");
  const std::string qwen = bpe_folder("qwen_tmpl", "qwen2", {{"bos_token", nullptr}, {"eos_token", "<|im_end|>"}});
  const std::string mistral =
      bpe_folder("mistral_tmpl", "llama3", {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|end_of_text|>"}});
  for (const auto& [name, file] :
       std::vector<std::pair<std::string, std::string>>{{"llama3", llama3}, {"chatml", qwen}, {"mistral", mistral}}) {
    mm::TokenizerConfig cfg;
    cfg.chat_template = name;
    const Tokenizer tok = Tokenizer::load(cfg, file);
    const mm::tok::BpeTokenizer raw = mm::tok::BpeTokenizer::from_json(tok.model_bytes());
    for (const auto& [conv, messages] : g["conversations"].items()) {
      INFO(name << " " << conv);
      const auto e = encode(tok, sample_of(messages));
      const std::string expected = g["rendered"][name][conv];
      CHECK(mm::tok::render_with_loss(tok, e, "", "") == expected);
      // llama3 and chatml put special tokens at every segment boundary: the ids are those of the whole string.
      if (name != "mistral") CHECK(e.input_ids == raw.encode(expected, true));
    }
  }
  // Loss on the assistant's text and its turn end only.
  auto marked = [&](const std::string& name, const std::string& file, const char* conv) {
    mm::TokenizerConfig cfg;
    cfg.chat_template = name;
    return mm::tok::render_with_loss(Tokenizer::load(cfg, file),
                                     encode(Tokenizer::load(cfg, file), sample_of(g["conversations"][conv])));
  };
  CHECK(marked("llama3", llama3, "one_turn") ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat shape is it?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n[[A red circle.<|eot_id|>]]");
  CHECK(marked("chatml", qwen, "system") ==
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nCount: 1 2 3<|im_end|>\n"
        "<|im_start|>assistant\n[[Three.<|im_end|>\n]]");
  CHECK(marked("mistral", mistral, "two_turns") ==
        "<|begin_of_text|>[INST] <image>\nWhat colour is the circle? [/INST][[Red.<|end_of_text|>]][INST] And the "
        "square? [/INST][[  Blue, 12 px.\n<|end_of_text|>]]");
}
