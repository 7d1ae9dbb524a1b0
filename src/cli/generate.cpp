// mmtrain generate: greedy decoding with the KV cache from a checkpoint, the prompt rendered with
// the chat template and its images preprocessed exactly as in training (eval/generation/).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "eval/generation/evaluate_model.h"
#include "eval/generation/greedy.h"
#include "eval/generation/prompt.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"

namespace mm::cli {
namespace {

struct GenerateArgs {
  std::string checkpoint;
  std::string prompt;
  std::vector<std::string> images;
  int64_t max_new_tokens = 64;
  bool json = false;
};

size_t count_placeholders(const std::string& s) {
  size_t n = 0;
  for (size_t p = s.find("<image>"); p != std::string::npos; p = s.find("<image>", p + 7)) ++n;
  return n;
}

void run_generate(const GenerateArgs& a) {
  MM_CHECK(a.max_new_tokens > 0, "--max-new-tokens: expected a positive count, got {}", a.max_new_tokens);
  // Before the checkpoint loads: a folder, a FIFO (would block) or a device is one line.
  for (const auto& image : a.images) io::check_regular_file(image, io::kMaxImageBytes, "--image");
  mm::LoadedModel loaded = mm::load_model_checkpoint(a.checkpoint);
  tok::Tokenizer tokenizer = load_checkpoint_tokenizer(loaded.config, loaded.path);
  // Images without placeholders: one "<image>" per image before the text, as the SFT data has them.
  std::string question = a.prompt;
  const size_t holders = count_placeholders(question);
  if (holders == 0 && !a.images.empty()) {
    std::string prefix;
    for (size_t k = 0; k < a.images.size(); ++k) prefix += "<image>";
    question = prefix + "\n" + question;
  } else {
    MM_CHECK(holders == a.images.size(), "--prompt has {} <image> placeholder(s) but {} --image file(s) were given",
             holders, a.images.size());
  }
  gen::PromptBuilder builder(loaded.config, tokenizer, loaded.model->tokens_per_tile());
  gen::Prompt prompt = builder.build(question, a.images, "--prompt");
  gen::GenerateOptions options;
  options.max_new_tokens = a.max_new_tokens;
  gen::Generation g = gen::generate_greedy(loaded.model, tokenizer, {prompt}, options).at(0);
  if (a.json) {
    nlohmann::json j;
    j["prompt_ids"] = prompt.ids;
    j["output_ids"] = g.output_ids;
    j["text"] = g.text;
    // Model output may hold invalid UTF-8 (a byte token alone): replaced, never fatal.
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << g.text << "\n";
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Greedy decoding from a checkpoint (KV cache, training preprocessing)");
  auto args = std::make_shared<GenerateArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "checkpoint folder, checkpoints/ folder or run directory")
      ->required();
  cmd->add_option("--prompt", args->prompt, "the question; one <image> per --image (added in front when absent)")
      ->required();
  cmd->add_option("--image", args->images, "image file (repeatable, in placeholder order)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "stop after this many tokens (default 64)");
  cmd->add_flag("--json", args->json,
                "print one JSON object {\"prompt_ids\": [...], \"output_ids\": [...], \"text\": \"...\"}");
  cmd->callback([args]() { run_generate(*args); });
}

}  // namespace mm::cli
