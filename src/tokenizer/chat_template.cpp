#include "tokenizer/chat_template.h"

namespace mm::tok {

ChatTemplate resolve_chat_template(const TokenizerConfig& cfg) {
  ChatTemplate t;
  t.name = cfg.chat_template;
  t.add_bos = cfg.add_bos;
  t.add_eos = cfg.add_eos;
  t.eos_after_text = cfg.add_eos;
  if (cfg.chat_template == "chat") {
    t.system_prefix = cfg.system_prefix;
    t.user_prefix = cfg.user_prefix;
    t.assistant_prefix = cfg.assistant_prefix;
    t.turn_end = t.system_suffix = t.user_suffix = cfg.turn_end;
  } else if (cfg.chat_template == "llama3") {
    // Meta-Llama-3-8B-Instruct's template: bos_token + per message
    // '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content | trim + '<|eot_id|>'.
    t.system_prefix = "<|start_header_id|>system<|end_header_id|>\n\n";
    t.user_prefix = "<|start_header_id|>user<|end_header_id|>\n\n";
    t.assistant_prefix = "<|start_header_id|>assistant<|end_header_id|>\n\n";
    t.turn_end = t.system_suffix = t.user_suffix = "<|eot_id|>";
    t.trim = true;
    t.add_eos = false;
  } else if (cfg.chat_template == "chatml") {
    // '<|im_start|>' + role + '\n' + content + '<|im_end|>' + '\n' per message, no bos.
    t.system_prefix = "<|im_start|>system\n";
    t.user_prefix = "<|im_start|>user\n";
    t.assistant_prefix = "<|im_start|>assistant\n";
    t.turn_end = t.system_suffix = t.user_suffix = "<|im_end|>\n";
    t.add_bos = false;
    t.add_eos = false;
  } else if (cfg.chat_template == "mistral") {
    // Mistral-7B-Instruct: bos_token + '[INST] ' + content + ' [/INST]' + answer + eos_token ...
    t.user_prefix = "[INST] ";
    t.user_suffix = " [/INST]";
    t.system_in_user = true;
    t.eos_after_assistant = true;
    t.add_bos = true;
    t.add_eos = true;
  } else if (cfg.chat_template != "plain") {
    MM_FAIL(
        "tokenizer.chat_template \"{}\": expected chat | plain | llama3 | chatml | mistral (auto is resolved when "
        "the tokenizer loads)",
        cfg.chat_template);
  }
  return t;
}

namespace {

std::string trimmed(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

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
  // A role marker: a SentencePiece control piece of that name (Mistral v3's [INST]) by id, else as text.
  void marker(const std::string& s, bool loss) {
    if (s.empty()) return;
    if (!tok.is_bpe()) {
      const int32_t id = tok.piece_to_id(s);
      if (id >= 0 && tok.is_control(id)) return tokens({id}, loss);
    }
    text(s, loss);
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
  if (t.add_bos && tok.bos_id() >= 0) b.tokens({tok.bos_id()}, false);
  std::string pending_system;  // mistral: goes before the next user text
  for (size_t i = 0; i < turns.size(); ++i) {
    const Turn& turn = turns[i];
    const std::string text = t.trim && turn.role != Role::Text ? trimmed(turn.text) : turn.text;
    switch (turn.role) {
      case Role::Text:
        b.text_with_images(text, true);
        break;
      case Role::System:
        if (t.system_in_user) {
          pending_system = text + "\n\n";
          break;
        }
        b.marker(t.system_prefix, false);
        b.text_with_images(text, false);
        b.marker(t.system_suffix, false);
        break;
      case Role::User:
        b.marker(t.user_prefix, false);
        b.text_with_images(pending_system + text, false);
        pending_system.clear();
        b.marker(t.user_suffix, false);
        break;
      case Role::Assistant:
        b.marker(t.assistant_prefix, false);
        b.text_with_images(text, true);
        b.marker(t.turn_end, true);
        if (t.eos_after_assistant && i + 1 < turns.size()) b.tokens({tok.eos_id()}, true);
        break;
    }
  }
  if (!pending_system.empty()) b.text_with_images(pending_system, false);  // a system turn with no user turn after
  const Role last = turns.back().role;
  const bool closes = last == Role::Text || last == Role::Assistant;
  if (t.add_eos && (closes || !t.eos_after_assistant)) {
    b.tokens({tok.eos_id()}, closes);
  } else if (!t.add_eos && t.eos_after_text && last == Role::Text) {
    b.tokens({tok.eos_id()}, true);
  }
  if (b.out.num_images != static_cast<int64_t>(num_images)) {
    throw SampleError(fmt::format("{} <image> placeholder(s) but {} image(s)", b.out.num_images, num_images));
  }
  return std::move(b.out);
}

}  // namespace mm::tok
