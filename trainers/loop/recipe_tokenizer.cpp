#include "trainers/loop/recipe_tokenizer.h"

#include <filesystem>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "tokenizer/hub_tokens.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace mm::train {
namespace {

// The string at tree.root[section][key], "" when absent (nothing is created).
std::string string_at(const cfg::ConfigTree& tree, const char* section, const char* key) {
  const cfg::Json& r = tree.root;
  if (!r.contains(section) || !r[section].is_object() || !r[section].contains(key)) return "";
  const cfg::Json& v = r[section][key];
  return v.is_string() ? v.get<std::string>() : std::string();
}

void set_string(cfg::ConfigTree& tree, const char* section, const char* key, const std::string& value,
                const std::string& origin) {
  cfg::Json& s = tree.root[section];
  if (!s.is_object()) s = cfg::Json::object();
  s[key] = value;
  tree.origins[std::string(section) + "." + key] = origin;
}

}  // namespace

void apply_pretrained_tokenizer(cfg::ConfigTree& tree, const std::string& dir, int64_t folder_vocab,
                                bool template_explicit) {
  if (string_at(tree, "tokenizer", "model_path").empty()) {
    const fs::path folder = fs::absolute(dir).lexically_normal();
    fs::path file = folder / "tokenizer.json";
    if (!fs::is_regular_file(file)) file = folder / "tokenizer.model";
    if (!fs::is_regular_file(file)) return;  // no tokenizer here: loading one fails naming tokenizer.model_path
    set_string(tree, "tokenizer", "model_path", file.string(), (folder / "config.json").string());
  }
  const std::string named = string_at(tree, "tokenizer", "chat_template");
  if (!template_explicit || named == "auto") {
    const tok::TokenizerSidecar side = tok::read_tokenizer_sidecar(dir);
    const std::string where = side.file.empty() ? dir : side.file;
    if (named == "auto") {
      try {
        set_string(tree, "tokenizer", "chat_template",
                   tok::resolve_template_name("auto", side.chat_template, side.file, (fs::path(dir) / "x").string()),
                   where);
      } catch (const mm::Error& e) {
        throw cfg::ConfigError(without_location(e.what()));
      }
    } else if (const std::string found = tok::recognise_chat_template(side.chat_template); !found.empty()) {
      set_string(tree, "tokenizer", "chat_template", found, where);
    }
  }
  const RunConfig rc = cfg::from_tree<RunConfig>(tree);
  if (!fs::is_regular_file(rc.tokenizer.model_path)) return;  // not on this machine yet: preflight says so
  const tok::Tokenizer tok = tok::Tokenizer::load(rc.tokenizer);
  if (tok.base_vocab_size() > folder_vocab)
    throw cfg::ConfigError(
        fmt::format("tokenizer.model_path: {} has {} tokens, more than the {} rows of the embedding (vocab_size in {})",
                    tok.origin(), tok.base_vocab_size(), folder_vocab, (fs::path(dir) / "config.json").string()));
  if (tok.vocab_size() > rc.model.llm.vocab_size) {
    tree.root["model"]["llm"]["vocab_size"] = std::to_string(tok.vocab_size());
    tree.origins["model.llm.vocab_size"] = tok.origin() + " (with mmtrain's added tokens)";
  }
}

}  // namespace mm::train
