// mmtrain generate: decoding with the KV cache from a checkpoint (greedy, or sampled with a
// temperature, top-p and seed), the prompt rendered with the chat template (an optional system
// prompt) and its images preprocessed exactly as in training (eval/generation/). One prompt from
// the command line, or a JSONL file of prompts (--batch), answered in batches.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "eval/generation/evaluate_model.h"
#include "eval/generation/generate.h"
#include "eval/generation/prompt.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"

namespace mm::cli {
namespace {

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string checkpoint;
  std::string prompt;
  std::vector<std::string> images;
  std::string batch;  // JSONL of {"prompt", "images"?, "id"?}
  int64_t batch_size = 8;
  std::string system;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  bool json = false;
};

// One question to answer: its text, images and a name for errors and output.
struct Request {
  std::string id, prompt, what;
  std::vector<std::string> images;
};

size_t count_placeholders(const std::string& s) {
  size_t n = 0;
  for (size_t p = s.find("<image>"); p != std::string::npos; p = s.find("<image>", p + 7)) ++n;
  return n;
}

// Images without placeholders: one "<image>" per image before the text, as the SFT data has them.
std::string with_placeholders(const Request& r) {
  const size_t holders = count_placeholders(r.prompt);
  if (holders == 0 && !r.images.empty()) {
    std::string prefix;
    for (size_t k = 0; k < r.images.size(); ++k) prefix += "<image>";
    return prefix + "\n" + r.prompt;
  }
  MM_CHECK(holders == r.images.size(), "{}: the prompt has {} <image> placeholder(s) but {} image(s) were given",
           r.what, holders, r.images.size());
  return r.prompt;
}

// The --batch file: one JSON object per line, {"prompt": "...", "images": ["a.png"], "id": "q1"};
// image paths relative to the file's folder; blank lines skipped. Any other line: one error naming
// file:line (nothing is answered, nothing silently dropped).
std::vector<Request> read_batch(const std::string& path) {
  std::istringstream in(io::read_file(path));
  const fs::path dir = fs::path(path).parent_path();
  std::vector<Request> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = fmt::format("{}:{}", path, n);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    MM_CHECK(j.is_object(), "{}: expected a JSON object {{\"prompt\": ..., \"images\": [...]}}", where);
    MM_CHECK(j.contains("prompt") && j["prompt"].is_string(), "{}: key \"prompt\": expected a string", where);
    Request r;
    r.what = where;
    r.prompt = j["prompt"].get<std::string>();
    r.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : std::to_string(n);
    if (j.contains("images")) {
      MM_CHECK(j["images"].is_array(), "{}: key \"images\": expected a list of file names", where);
      for (const auto& img : j["images"]) {
        MM_CHECK(img.is_string() && !img.get<std::string>().empty(),
                 "{}: key \"images\": expected a list of file names", where);
        const fs::path p(img.get<std::string>());
        r.images.push_back(p.is_relative() ? (dir / p).lexically_normal().string() : p.string());
      }
    }
    out.push_back(std::move(r));
  }
  MM_CHECK(!out.empty(), "--batch {}: no prompt in the file", path);
  return out;
}

std::string to_json_line(const nlohmann::json& j) {
  // Model output may hold invalid UTF-8 (a byte token alone): replaced, never fatal.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void run_generate(const GenerateArgs& a) {
  MM_CHECK(a.max_new_tokens > 0, "--max-new-tokens: expected a positive count, got {}", a.max_new_tokens);
  MM_CHECK(a.batch_size > 0, "--batch-size: expected a positive count, got {}", a.batch_size);
  MM_CHECK(a.batch.empty() != a.prompt.empty(), "generate: give --prompt (one question) or --batch FILE.jsonl");
  MM_CHECK(a.batch.empty() || a.images.empty(),
           "--image goes with --prompt; in --batch files each line has \"images\"");
  std::vector<Request> requests;
  if (a.batch.empty()) {
    requests.push_back({"prompt", a.prompt, "--prompt", a.images});
  } else {
    requests = read_batch(a.batch);
  }
  // Before the checkpoint loads: a missing image, a folder, a FIFO (would block) or a device is one line.
  for (const auto& r : requests)
    for (const auto& image : r.images)
      io::check_regular_file(image, io::kMaxImageBytes, a.batch.empty() ? std::string("--image") : r.what + ": image");
  mm::LoadedModel loaded = mm::load_model_checkpoint(a.checkpoint);
  tok::Tokenizer tokenizer = load_checkpoint_tokenizer(loaded.config, loaded.path);
  gen::PromptBuilder builder(loaded.config, tokenizer, loaded.model->tokens_per_tile());
  gen::GenerateOptions options;
  options.max_new_tokens = a.max_new_tokens;
  options.temperature = a.temperature;
  options.top_p = a.top_p;
  options.seed = a.seed;
  for (size_t start = 0; start < requests.size(); start += static_cast<size_t>(a.batch_size)) {
    const size_t end = std::min(requests.size(), start + static_cast<size_t>(a.batch_size));
    std::vector<gen::Prompt> prompts;
    for (size_t i = start; i < end; ++i)
      prompts.push_back(builder.build(with_placeholders(requests[i]), requests[i].images, requests[i].what, a.system));
    const std::vector<gen::Generation> gens = gen::generate(loaded.model, tokenizer, prompts, options);
    for (size_t i = start; i < end; ++i) {
      const gen::Generation& g = gens[i - start];
      if (!a.batch.empty()) {
        std::cout << to_json_line(
                         {{"id", requests[i].id}, {"prompt", requests[i].prompt}, {"text", g.text}, {"stop", g.stop}})
                  << "\n";
      } else if (a.json) {
        std::cout << to_json_line({{"prompt_ids", prompts[i - start].ids},
                                   {"output_ids", g.output_ids},
                                   {"text", g.text},
                                   {"stop", g.stop}})
                  << "\n";
      } else {
        std::cout << g.text << "\n";
      }
    }
    std::cout.flush();
  }
}

}  // namespace

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Answer prompts from a checkpoint (greedy or sampled, KV cache)");
  auto args = std::make_shared<GenerateArgs>();
  cmd->add_option("--checkpoint", args->checkpoint, "checkpoint folder, checkpoints/ folder or run directory")
      ->required();
  cmd->add_option("--prompt", args->prompt, "the question; one <image> per --image (added in front when absent)");
  cmd->add_option("--image", args->images, "image file (repeatable, in placeholder order)");
  cmd->add_option("--batch", args->batch,
                  "JSONL file, one {\"prompt\", \"images\"?, \"id\"?} per line (images relative to the file); "
                  "prints one {\"id\", \"prompt\", \"text\", \"stop\"} line each");
  cmd->add_option("--batch-size", args->batch_size, "prompts decoded together with --batch (default 8)");
  cmd->add_option("--system", args->system, "a system prompt (the chat template's system turn)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "stop after this many tokens (default 64)");
  cmd->add_option("--temperature", args->temperature, "0 = greedy (default); > 0 samples from softmax(logits / T)");
  cmd->add_option("--top-p", args->top_p, "sample only from the most likely tokens whose probability reaches p");
  cmd->add_option("--seed", args->seed, "the sampler's seed: the same seed gives the same answer (default 0)");
  cmd->add_flag("--json", args->json,
                "print one JSON object {\"prompt_ids\": [...], \"output_ids\": [...], \"text\": \"...\", "
                "\"stop\": ...}");
  cmd->callback([args]() { run_generate(*args); });
}

}  // namespace mm::cli
