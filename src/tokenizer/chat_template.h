// The chat template: turns a sample's turns into token segments with loss flags and image
// placeholders left in place (expanded later, once each image's tile layout is known).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/check.h"
#include "tokenizer/conversation.h"
#include "tokenizer/tokenizer.h"

namespace mm::tok {

// A sample the template cannot render (e.g. placeholder count != image count). what() is the
// quarantine reason; the caller records it with the source and record id.
class SampleError : public mm::Error {
 public:
  using mm::Error::Error;
};

// The role markers of a named template (tokenizer.chat_template; docs/tokenizer.md):
//   chat   : the TokenizerConfig strings (default <|system|> <|user|> <|assistant|> ... <|end|>)
//   plain  : no markers at all; user text and assistant text follow each other directly
//   llama3 : [bos]<|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|>... (text trimmed)
//   chatml : <|im_start|>ROLE\nTEXT<|im_end|>\n... (no bos)
//   mistral: [bos][INST] TEXT [/INST]ANSWER</s>[INST] ... (a system turn goes before the next user
//            text, followed by a blank line)
// `turn_end` closes an assistant turn (it carries loss); `user_suffix` and `system_suffix` close
// the others. `add_eos`: eos closes a sample whose last turn is Text or Assistant (chat, plain,
// mistral); the family templates llama3 and chatml end with their turn end instead (`eos_after_text`:
// eos only after a Text turn: captions and documents).
struct ChatTemplate {
  std::string name;
  std::string system_prefix, user_prefix, assistant_prefix, turn_end;
  std::string system_suffix, user_suffix;
  bool add_bos = true, add_eos = true, eos_after_text = true;
  bool trim = false;                 // llama3: message['content'] | trim
  bool system_in_user = false;       // mistral
  bool eos_after_assistant = false;  // mistral: eos after every answer (the last one is add_eos's)
};
ChatTemplate resolve_chat_template(const TokenizerConfig& cfg);

// A templated sample: text token runs (each with one loss flag) and image placeholders in order.
struct TemplatePart {
  std::vector<int32_t> ids;  // text tokens; empty for an image
  bool loss = false;         // these tokens carry loss
  int64_t image = -1;        // >= 0: placeholder of image number `image`
};
struct TemplatedSample {
  std::vector<TemplatePart> parts;
  int64_t num_images = 0;
  int64_t text_tokens = 0;  // tokens outside images
};

// Renders `turns` with the tokenizer's template (docs/tokenizer.md):
//   [bos] then per turn
//     Text      : text                          loss on text
//     System    : system_prefix text system_suffix   no loss
//     User      : user_prefix text user_suffix       no loss
//     Assistant : assistant_prefix text turn_end  loss on text and turn_end
//   [eos]  loss when the last turn is Text or Assistant (see ChatTemplate for the family templates)
// Every "<image>" placeholder becomes an image part (no loss). Each segment is encoded on its own,
// so token boundaries coincide with the loss boundaries exactly.
// Throws SampleError when the placeholder count differs from `num_images` or there are no turns.
TemplatedSample apply_chat_template(const Tokenizer& tok, const std::vector<Turn>& turns, size_t num_images);

}  // namespace mm::tok
