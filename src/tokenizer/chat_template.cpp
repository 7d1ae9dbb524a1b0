#include "tokenizer/chat_template.h"

namespace mm::tok {

ChatTemplate resolve_chat_template(const TokenizerConfig& cfg) {
  ChatTemplate t;
  t.add_bos = cfg.add_bos;
  t.add_eos = cfg.add_eos;
  if (cfg.chat_template == "chat") {
    t.system_prefix = cfg.system_prefix;
    t.user_prefix = cfg.user_prefix;
    t.assistant_prefix = cfg.assistant_prefix;
    t.turn_end = cfg.turn_end;
  } else if (cfg.chat_template != "plain") {
    MM_FAIL("tokenizer.chat_template \"{}\": expected chat | plain", cfg.chat_template);
  }
  return t;
}

namespace {

struct Builder {
  const Tokenizer& tok;
  TemplatedSample out;

  void tokens(std::vector<int32_t> ids, bool loss) {
    if (ids.empty()) return;
    out.text_tokens += static_cast<int64_t>(ids.size());
    if (!out.parts.empty() && out.parts.back().image < 0 && out.parts.back().loss == loss) {
      auto& back = out.parts.back().ids;
      back.insert(back.end(), ids.begin(), ids.end());
    } else {
      out.parts.push_back({std::move(ids), loss, -1});
    }
  }
  void text(const std::string& s, bool loss) {
    if (!s.empty()) tokens(tok.encode(s), loss);
  }
  // Text with "<image>" placeholders: each piece between placeholders encoded on its own.
  void text_with_images(const std::string& s, bool loss) {
    const std::string ph = kImagePlaceholder;
    size_t start = 0;
    for (size_t pos = s.find(ph); pos != std::string::npos; pos = s.find(ph, start)) {
      text(s.substr(start, pos - start), loss);
      out.parts.push_back({{}, false, out.num_images++});
      start = pos + ph.size();
    }
    text(s.substr(start), loss);
  }
};

}  // namespace

TemplatedSample apply_chat_template(const Tokenizer& tok, const std::vector<Turn>& turns, size_t num_images) {
  const ChatTemplate t = resolve_chat_template(tok.config());
  if (turns.empty()) throw SampleError("sample has no turns");
  Builder b{tok, {}};
  if (t.add_bos) b.tokens({tok.bos_id()}, false);
  for (const auto& turn : turns) {
    switch (turn.role) {
      case Role::Text:
        b.text_with_images(turn.text, true);
        break;
      case Role::System:
        b.text(t.system_prefix, false);
        b.text_with_images(turn.text, false);
        b.text(t.turn_end, false);
        break;
      case Role::User:
        b.text(t.user_prefix, false);
        b.text_with_images(turn.text, false);
        b.text(t.turn_end, false);
        break;
      case Role::Assistant:
        b.text(t.assistant_prefix, false);
        b.text_with_images(turn.text, true);
        b.text(t.turn_end, true);
        break;
    }
  }
  if (t.add_eos) {
    const Role last = turns.back().role;
    b.tokens({tok.eos_id()}, last == Role::Text || last == Role::Assistant);
  }
  if (b.out.num_images != static_cast<int64_t>(num_images)) {
    throw SampleError(fmt::format("{} <image> placeholder(s) but {} image(s)", b.out.num_images, num_images));
  }
  return std::move(b.out);
}

}  // namespace mm::tok
