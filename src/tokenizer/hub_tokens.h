// Hub tokenizers as they are (docs/tokenizer.md, "Tokenizers from a model folder"): the folder's
// tokenizer_config.json, the chat templates recognised in it, the special tokens mmtrain adds to a
// tokenizer that lacks them, and the files an exported folder needs to load with its own tokenizer.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config/tokenizer_config.h"
#include "tokenizer/bpe_tokenizer.h"

namespace mm::tok {

class Tokenizer;

// tokenizer_config.json in `dir` (every field empty when the file is absent).
struct TokenizerSidecar {
  std::string file;  // the file read; "" when none
  std::string bos_token, eos_token, pad_token;
  bool bos_null = false;      // "bos_token": null (Qwen2.5: no bos)
  std::string chat_template;  // jinja; "" when none
};
// Throws one line naming the file when it is not a JSON object.
TokenizerSidecar read_tokenizer_sidecar(const std::string& dir);

// "llama3" | "chatml" | "mistral" (or "chat" / "plain" for a template mmtrain exported) for a jinja
// chat template, "" when not recognised.
std::string recognise_chat_template(const std::string& jinja);
// The jinja mmtrain writes for a named template: the family's published template (llama3: Meta's
// Llama-3-8B-Instruct; chatml: the ChatML template; mistral: Mistral-7B-Instruct's), with a first
// comment naming it.
std::string chat_template_jinja(const TokenizerConfig& cfg);  // cfg.chat_template names it
// `configured` with "auto" resolved from the folder's jinja; an unrecognised (or absent) one is one
// error naming `sidecar_file` (or `origin`) and telling the user to name a template.
std::string resolve_template_name(const std::string& configured, const std::string& jinja,
                                  const std::string& sidecar_file, const std::string& origin);

// The special tokens a tokenizer must hold for `cfg` (chat_template resolved): the image token, the
// template's role markers (chat/plain: the TokenizerConfig's; llama3: <|begin_of_text|>
// <|start_header_id|> <|end_header_id|> <|eot_id|>; chatml: <|im_start|> <|im_end|>; mistral: none,
// its [INST] markers are text) and the tile indicators of both modes (index and seps), so every stage
// of a recipe has the same vocabulary whatever its image.indicators.
std::vector<std::string> required_tokens(const TokenizerConfig& cfg);

// SentencePiece: `model_bytes` (a serialized ModelProto) with USER_DEFINED pieces appended (score 0;
// ' ' stored as U+2581). Protobuf merges a repeated field appended to a message.
std::string spm_append_user_pieces(const std::string& model_bytes, const std::vector<std::string>& pieces);

// A tokenizer.json (or its bytes with an "mmtrain" entry) with the missing required tokens appended as
// special added tokens, bos/eos/pad resolved (the "mmtrain" entry, else tokenizer_config.json's
// bos_token/eos_token/pad_token, else the special added tokens <|begin_of_text|>/<s> and
// <|end_of_text|>/<|endoftext|>/</s>/<|im_end|>/<|eot_id|>; pad = eos when none).
struct BpeGrowth {
  BpeTokenizer tokenizer;
  std::string bytes;  // the tokenizer.json with the added tokens and the "mmtrain" entry
  std::string chat_template, folder_template;
  std::vector<std::string> added;
  int64_t base_vocab = 0;
  int32_t bos_id = -1, eos_id = -1, pad_id = -1;
};
BpeGrowth grow_bpe(const std::string& bytes, const std::string& origin, const TokenizerSidecar& side,
                   const TokenizerConfig& cfg);

// The files a Hugging Face folder needs to load with `tok` (name, content): tokenizer.json (BPE,
// without the "mmtrain" entry) or tokenizer.model (SentencePiece), tokenizer_config.json (bos/eos/pad,
// the added tokens, the chat template's jinja) and special_tokens_map.json.
std::vector<std::pair<std::string, std::string>> hf_tokenizer_files(const Tokenizer& tok);

// The lines `mmtrain info` prints for a tokenizer: kind, file, vocabulary, added tokens, template.
std::vector<std::string> describe_tokenizer(const Tokenizer& tok);

}  // namespace mm::tok
