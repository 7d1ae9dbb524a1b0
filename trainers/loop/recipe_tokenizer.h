// model.llm.from: hf:DIR and the tokenizer (docs/pretrained.md, "Tokenizer"): applied by load_recipe
// to a stage's tree after the decoder's config.json values (internal to the recipe loader).
#pragma once
#include <cstdint>
#include <string>

#include "core/config/config_tree.h"

namespace mm::train {

// With a pretrained decoder folder `dir` (config.json vocab_size `folder_vocab`):
//  - tokenizer.model_path, when nobody gave one, becomes DIR/tokenizer.json, else DIR/tokenizer.model
//    (neither: left empty, and loading the tokenizer later is the error);
//  - tokenizer.chat_template, when the user did not name one (`template_explicit` false), becomes the
//    folder's tokenizer_config.json template when recognised (llama3 | chatml | mistral); `auto` is
//    resolved the same way, an unrecognised one is one error;
//  - the tokenizer is loaded when its file exists (mmtrain's special tokens added): more tokens in the file than the
//    folder's rows is one error; when the grown tokenizer is larger than model.llm.vocab_size, the
//    vocabulary becomes the tokenizer's size (the decoder's rows grow at load, hf_import.h).
void apply_pretrained_tokenizer(cfg::ConfigTree& tree, const std::string& dir, int64_t folder_vocab,
                                bool template_explicit);

}  // namespace mm::train
