// Typed configuration of the tokenizer and chat template (plain struct, visit() pattern of
// model_config.h): the SentencePiece model, the special tokens and the template strings.
#pragma once
#include <cstdint>
#include <string>

#include "core/config/rules.h"

namespace mm {

// Defaults are the documented template of docs/tokenizer.md:
//   <s><|system|>S<|end|><|user|>Q<|end|><|assistant|>A<|end|>...</s>
// Loss on A<|end|> (assistant turns) and on Text-role turns; see docs/tokenizer.md.
struct TokenizerConfig {
  std::string model_path;              // SentencePiece .model or Hugging Face tokenizer.json
  std::string chat_template = "chat";  // chat | plain (no role markers) | llama3 | chatml | mistral | auto
  std::string system_prefix = "<|system|>";
  std::string user_prefix = "<|user|>";
  std::string assistant_prefix = "<|assistant|>";
  std::string turn_end = "<|end|>";  // closes system, user and assistant turns
  bool add_bos = true;               // bos at the start of every sample
  bool add_eos = true;               // eos at the end of every sample

  // SentencePiece control pieces (inserted by id only: a literal "<s>" in data stays text).
  std::string unk_piece = "<unk>";
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  std::string pad_piece = "<pad>";

  // User-defined symbols (never split by the tokenizer).
  std::string image_token = "<image>";  // placeholder in text and the id of every image slot
  // Position indicators, "index" mode: (k, i, j) per tile as three tokens, e.g. <img_0><row_1><col_2>;
  // the overview is (k, 0, 0). "{}" is replaced by the number.
  std::string index_image_format = "<img_{}>";
  std::string index_row_format = "<row_{}>";
  std::string index_col_format = "<col_{}>";
  int64_t index_max_images = 32;  // k in [0, index_max_images)
  int64_t index_max_grid = 16;    // i, j in [0, index_max_grid]
  // Position indicators, "seps" mode.
  std::string sep_col = ",";       // between the tiles of a row
  std::string sep_row = "<n>";     // between rows
  std::string sep_overview = ":";  // before the overview

  template <class V>
  void visit(V& v) {
    v("model_path", model_path,
      "SentencePiece .model or Hugging Face tokenizer.json (with model.llm.from: that folder's, when not given)",
      cfg::input_path());
    v("chat_template", chat_template,
      "chat template: chat | plain | llama3 | chatml | mistral | auto (the decoder folder's tokenizer_config.json)",
      cfg::one_of({"chat", "plain", "llama3", "chatml", "mistral", "auto"}));
    v("system_prefix", system_prefix, "opens a system turn (chat template)");
    v("user_prefix", user_prefix, "opens a user turn (chat template)");
    v("assistant_prefix", assistant_prefix, "opens an assistant turn (chat template)");
    v("turn_end", turn_end, "closes system/user/assistant turns (chat template); carries loss after an assistant turn");
    v("add_bos", add_bos, "bos at the start of every sample");
    v("add_eos", add_eos, "eos at the end of every sample");
    v("unk_piece", unk_piece, "SentencePiece unknown piece");
    v("bos_piece", bos_piece, "SentencePiece bos control piece");
    v("eos_piece", eos_piece, "SentencePiece eos control piece");
    v("pad_piece", pad_piece, "SentencePiece pad control piece");
    v("image_token", image_token, "image placeholder in text and image-slot token");
    v("index_image_format", index_image_format, "index indicator token for image k ({} = k)");
    v("index_row_format", index_row_format, "index indicator token for row i ({} = i, 0 = overview)");
    v("index_col_format", index_col_format, "index indicator token for column j ({} = j, 0 = overview)");
    v("index_max_images", index_max_images, "index indicators exist for images 0..n-1");
    v("index_max_grid", index_max_grid, "index indicators exist for rows/columns 0..n");
    v("sep_col", sep_col, "seps indicator between the tiles of a row");
    v("sep_row", sep_row, "seps indicator between rows");
    v("sep_overview", sep_overview, "seps indicator before the overview");
  }
};

}  // namespace mm
