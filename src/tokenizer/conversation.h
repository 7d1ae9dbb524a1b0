// What the chat template reads: a sample's turns, each with a role, and "<image>" placeholders in
// their text. The data pipeline's RawSample (data_pipeline/sample.h) holds these turns beside the
// source, the record id and the images' bytes.
#pragma once
#include <string>

namespace mm::tok {

// Who speaks a turn; decides which tokens carry loss.
//   Text      plain document text (captions, interleaved documents, text-only pretraining): loss on
//   System    system prompt: no loss
//   User      user / "human" turn: no loss
//   Assistant assistant / "gpt" turn: loss on (SFT trains on assistant turns only)
enum class Role { Text, System, User, Assistant };

struct Turn {
  Role role = Role::Text;
  std::string text;  // may contain "<image>" placeholders, one per image, in image order
};

inline constexpr const char* kImagePlaceholder = "<image>";

}  // namespace mm::tok
