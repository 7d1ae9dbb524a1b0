// Scored prompts with the hub chat templates (issue 25): a text-only perplexity item ([bos] answer) and a
// question-answer item must end with the answer's tokens under llama3 and chatml, which end a text sample with
// eos although they do not set add_eos (apply_chat_template's eos_after_text), and under mistral (add_eos).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "eval/generation/prompt.h"
#include "tokenizer/tokenizer.h"

namespace {

mm::tok::Tokenizer hub_tokenizer(const std::string& file, const std::string& chat_template) {
  mm::TokenizerConfig c;
  c.model_path = std::string(MM_TEST_DATA_DIR) + "/golden/bpe/" + file;
  c.chat_template = chat_template;
  return mm::tok::Tokenizer::load(c);
}

}  // namespace

TEST_CASE("Scored prompts end with the answer's tokens under the llama3 and chatml and mistral templates",
          "[generation][tokenizer]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"llama3.tokenizer.json", "llama3"}, {"qwen2.tokenizer.json", "chatml"}, {"gpt2.tokenizer.json", "mistral"}};
  for (const auto& [file, name] : cases) {
    INFO(name);
    const mm::tok::Tokenizer tok = hub_tokenizer(file, name);
    mm::RunConfig cfg;
    cfg.loader.seq_len = 256;
    const mm::gen::PromptBuilder builder(cfg, tok, 4);
    const std::string answer = "The total is 590. 1 times 7 is 7.";
    const std::vector<int32_t> answer_ids = tok.encode(answer);
    REQUIRE(!answer_ids.empty());

    // Text perplexity: [bos] answer, the template's closing eos dropped.
    const mm::gen::Prompt text = builder.build_scored("", {}, answer, "text");
    const bool bos = name != "chatml" && tok.bos_id() >= 0;  // gpt2's file has no bos
    if (name == "llama3") CHECK(bos);
    std::vector<int32_t> expected = answer_ids;
    if (bos) expected.insert(expected.begin(), tok.bos_id());
    CHECK(text.ids == expected);
    CHECK(text.answer_begin == (bos ? 1 : 0));

    // Question and answer: the prompt is the generation prompt, then the answer's tokens.
    const mm::gen::Prompt qa = builder.build_scored("What is the total?", {}, answer, "qa");
    const mm::gen::Prompt gen = builder.build("What is the total?", {}, "gen");
    REQUIRE(qa.answer_begin == static_cast<int64_t>(gen.ids.size()));
    CHECK(std::vector<int32_t>(qa.ids.begin(), qa.ids.begin() + qa.answer_begin) == gen.ids);
    CHECK(std::vector<int32_t>(qa.ids.begin() + qa.answer_begin, qa.ids.end()) == answer_ids);
  }
}
