// Hub tokenizers as they are (see hub_tokens.h).
#include "tokenizer/hub_tokens.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/io.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
// Not ordered_json: its objects insert in linear time, quadratic for a 128k-token vocab.
using ojson = nlohmann::json;

namespace mm::tok {
namespace {

// A token field of tokenizer_config.json: "text", {"content": "text", ...} or null.
std::string token_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

std::vector<std::string> template_markers(const TokenizerConfig& cfg) {
  const std::string& t = cfg.chat_template;
  if (t == "llama3") return {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
  if (t == "chatml") return {"<|im_start|>", "<|im_end|>"};
  if (t == "mistral") return {};
  return {cfg.system_prefix, cfg.user_prefix, cfg.assistant_prefix, cfg.turn_end};  // chat, plain
}

std::string quote(const std::string& s) {  // a jinja string literal
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

TokenizerSidecar read_tokenizer_sidecar(const std::string& dir) {
  TokenizerSidecar s;
  const fs::path file = fs::path(dir) / "tokenizer_config.json";
  if (!fs::is_regular_file(file)) return s;
  s.file = file.string();
  ojson j;
  try {
    j = ojson::parse(io::read_file(s.file));
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", s.file, e.what());
  }
  MM_CHECK(j.is_object(), "{}: expected a JSON object", s.file);
  if (j.contains("bos_token")) {
    s.bos_token = token_text(j["bos_token"]);
    s.bos_null = j["bos_token"].is_null();
  }
  if (j.contains("eos_token")) s.eos_token = token_text(j["eos_token"]);
  if (j.contains("pad_token")) s.pad_token = token_text(j["pad_token"]);
  if (j.contains("chat_template")) {
    const ojson& t = j["chat_template"];
    if (t.is_string()) {
      s.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
      for (const auto& e : t)
        if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
          s.chat_template = e["template"].get<std::string>();
    }
  }
  return s;
}

std::string recognise_chat_template(const std::string& jinja) {
  const std::string tag = "{#- mmtrain: ";
  if (jinja.rfind(tag, 0) == 0) {
    const size_t end = jinja.find(' ', tag.size());
    const std::string name = jinja.substr(tag.size(), end == std::string::npos ? 0 : end - tag.size());
    for (const char* n : {"chat", "plain", "llama3", "chatml", "mistral"})
      if (name == n) return name;
  }
  auto has = [&](const char* s) { return jinja.find(s) != std::string::npos; };
  if (has("<|start_header_id|>") && has("<|end_header_id|>") && has("<|eot_id|>")) return "llama3";
  if (has("<|im_start|>") && has("<|im_end|>")) return "chatml";
  if (has("[INST]") && has("[/INST]")) return "mistral";
  return "";
}

std::string chat_template_jinja(const TokenizerConfig& cfg) {
  const std::string& name = cfg.chat_template;
  std::string body;
  if (name == "llama3") {  // Meta-Llama-3-8B-Instruct, tokenizer_config.json
    body =
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
        "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
        "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}";
  } else if (name == "chatml") {  // ChatML (Qwen2.5 when the conversation has a system turn)
    body =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
        "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
  } else if (name == "mistral") {  // Mistral-7B-Instruct-v0.2, with a system turn before the first user text
    body =
        "{{ bos_token }}{% set ns = namespace(sys='') %}{% for message in messages %}{% if message['role'] == "
        "'system' %}{% set ns.sys = message['content'] + '\n\n' %}{% elif message['role'] == 'user' %}{{ '[INST] ' + "
        "ns.sys + message['content'] + ' [/INST]' }}{% set ns.sys = '' %}{% elif message['role'] == 'assistant' %}"
        "{{ message['content'] + eos_token}}{% endif %}{% endfor %}";
  } else if (name == "plain") {
    body = "{{ bos_token }}{% for message in messages %}{{ message['content'] }}{% endfor %}{{ eos_token }}";
  } else {
    body = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ " +
           quote(cfg.system_prefix) + " }}{% elif message['role'] == 'user' %}{{ " + quote(cfg.user_prefix) +
           " }}{% else %}{{ " + quote(cfg.assistant_prefix) + " }}{% endif %}{{ message['content'] + " +
           quote(cfg.turn_end) + " }}{% endfor %}{{ eos_token }}";
  }
  return "{#- mmtrain: " + name + " -#}" + body;
}

std::string resolve_template_name(const std::string& configured, const std::string& jinja,
                                  const std::string& sidecar_file, const std::string& origin) {
  if (configured != "auto") return configured;
  const std::string name = recognise_chat_template(jinja);
  if (!name.empty()) return name;
  if (jinja.empty())
    MM_FAIL(
        "tokenizer.chat_template: auto, but {} has no chat_template to recognise; name one: chat | plain | llama3 | "
        "chatml | mistral",
        sidecar_file.empty() ? fs::path(origin).parent_path().string() + "/tokenizer_config.json" : sidecar_file);
  MM_FAIL(
      "tokenizer.chat_template: auto, but the chat_template of {} is none of llama3, chatml, mistral; name one: chat "
      "| plain | llama3 | chatml | mistral",
      sidecar_file);
}

std::vector<std::string> required_tokens(const TokenizerConfig& cfg) {
  TokenizerConfig markers = cfg;  // special_symbols(): image, role markers, indicators
  const auto roles = template_markers(cfg);
  markers.system_prefix = markers.user_prefix = markers.assistant_prefix = markers.turn_end = "";
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  const auto rest = special_symbols(markers);
  add(rest.front());  // the image token
  for (const auto& s : roles) add(s);
  for (const auto& s : rest) add(s);
  return out;
}

std::string spm_append_user_pieces(const std::string& model_bytes, const std::vector<std::string>& pieces) {
  std::string out = model_bytes;
  for (const std::string& piece : pieces) {
    std::string p;
    for (char c : piece) p += c == ' ' ? std::string("\xe2\x96\x81") : std::string(1, c);
    std::string inner;
    inner += '\x0a';  // SentencePiece.piece (1, string)
    varint(inner, p.size());
    inner += p;
    inner += '\x15';  // score (2, float) = 0
    inner.append(4, '\0');
    inner += '\x18';  // type (3, enum) = USER_DEFINED
    inner += '\x04';
    out += '\x0a';  // ModelProto.pieces (1, repeated message)
    varint(out, inner.size());
    out += inner;
  }
  return out;
}

BpeGrowth grow_bpe(const std::string& bytes, const std::string& origin, const TokenizerSidecar& side,
                   const TokenizerConfig& cfg) {
  ojson j;
  try {
    j = ojson::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", origin, e.what());
  }
  MM_CHECK(j.is_object(), "{}: expected a JSON object (a tokenizer.json)", origin);
  BpeGrowth g;
  std::string bos = side.bos_token, eos = side.eos_token, pad = side.pad_token;
  bool bos_null = side.bos_null;
  g.folder_template = side.chat_template;
  std::string sidecar = side.file;
  if (j.contains("mmtrain")) {  // the bytes a checkpoint carries
    const ojson m = j["mmtrain"];
    j.erase("mmtrain");
    bos = m.value("bos_token", ""), eos = m.value("eos_token", ""), pad = m.value("pad_token", "");
    bos_null = bos.empty();
    g.folder_template = m.value("folder_chat_template", "");
    g.base_vocab = m.value("base_vocab_size", int64_t{0});
    for (const auto& a : m.value("added_tokens", ojson::array())) g.added.push_back(a.get<std::string>());
    sidecar = origin + " (mmtrain.folder_chat_template)";
  }
  g.tokenizer = BpeTokenizer::from_json(bytes.find("\"mmtrain\"") == std::string::npos ? bytes : j.dump(), origin);
  if (g.base_vocab == 0) g.base_vocab = static_cast<int64_t>(g.tokenizer.vocab_size());
  TokenizerConfig resolved = cfg;
  resolved.chat_template = resolve_template_name(cfg.chat_template, g.folder_template, sidecar, origin);
  g.chat_template = resolved.chat_template;
  auto known = [&](const std::string& s) {
    if (g.tokenizer.token_to_id(s) >= 0) return true;
    const auto ids = g.tokenizer.encode(s, true);
    return ids.size() == 1;
  };
  std::vector<std::string> add;
  for (const auto& s : required_tokens(resolved)) {
    const int32_t id = g.tokenizer.token_to_id(s);
    // The image token must be an added token (never split, never merged with its neighbours).
    if (s == resolved.image_token ? id < 0 || !g.tokenizer.is_special(id) : !known(s)) add.push_back(s);
  }
  if (!add.empty()) {
    if (!j.contains("added_tokens") || !j["added_tokens"].is_array()) j["added_tokens"] = ojson::array();
    auto next = static_cast<int64_t>(g.tokenizer.vocab_size());
    for (const auto& s : add)
      j["added_tokens"].push_back({{"id", next++},
                                   {"content", s},
                                   {"single_word", false},
                                   {"lstrip", false},
                                   {"rstrip", false},
                                   {"normalized", false},
                                   {"special", true}});
    g.tokenizer = BpeTokenizer::from_json(j.dump(), origin);
    g.added.insert(g.added.end(), add.begin(), add.end());
  }
  auto id_of = [&](const std::string& name, const char* key) {
    const int32_t id = g.tokenizer.token_to_id(name);
    MM_CHECK(id >= 0, "{}: {} \"{}\" is not a token of {}", side.file.empty() ? origin : side.file, key, name, origin);
    return id;
  };
  auto first_special = [&](std::initializer_list<const char*> names) {
    for (const char* n : names) {
      const int32_t id = g.tokenizer.token_to_id(n);
      if (id >= 0 && g.tokenizer.is_special(id)) return std::string(n);
    }
    return std::string();
  };
  if (bos.empty() && !bos_null) bos = first_special({"<|begin_of_text|>", "<s>", "<|startoftext|>"});
  if (eos.empty()) eos = first_special({"<|end_of_text|>", "<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>"});
  MM_CHECK(!eos.empty(),
           "{}: no eos token: tokenizer_config.json (eos_token) is missing and no special added token is one of "
           "<|end_of_text|> <|endoftext|> </s> <|im_end|> <|eot_id|>",
           origin);
  g.bos_id = bos.empty() ? -1 : id_of(bos, "bos_token");
  g.eos_id = id_of(eos, "eos_token");
  g.pad_id = pad.empty() ? g.eos_id : id_of(pad, "pad_token");
  j["mmtrain"] = {{"bos_token", bos},        {"eos_token", eos},
                  {"pad_token", pad},        {"base_vocab_size", g.base_vocab},
                  {"added_tokens", g.added}, {"folder_chat_template", g.folder_template}};
  g.bytes = j.dump();
  return g;
}

std::vector<std::pair<std::string, std::string>> hf_tokenizer_files(const Tokenizer& tok) {
  std::vector<std::pair<std::string, std::string>> out;
  ojson cfg = ojson::object();
  ojson added = ojson::object();
  auto token = [&](int32_t id) { return id >= 0 ? ojson(tok.id_to_piece(id)) : ojson(nullptr); };
  if (tok.is_bpe()) {
    ojson j = ojson::parse(tok.model_bytes());
    j.erase("mmtrain");
    for (const auto& a : j.value("added_tokens", ojson::array())) {
      ojson e = a;
      const std::string id = std::to_string(e["id"].get<int64_t>());
      e.erase("id");
      added[id] = e;
    }
    out.emplace_back("tokenizer.json", j.dump(2) + "\n");
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  } else {
    out.emplace_back("tokenizer.model", tok.model_bytes());
    cfg["tokenizer_class"] = "LlamaTokenizer";
    cfg["add_bos_token"] = false;
    cfg["add_eos_token"] = false;
    cfg["legacy"] = true;
    cfg["unk_token"] = token(tok.unk_id());
  }
  cfg["added_tokens_decoder"] = added;
  cfg["bos_token"] = token(tok.bos_id());
  cfg["eos_token"] = token(tok.eos_id());
  cfg["pad_token"] = token(tok.pad_id());
  cfg["additional_special_tokens"] = tok.added_tokens();
  cfg["chat_template"] = chat_template_jinja(tok.config());
  cfg["clean_up_tokenization_spaces"] = false;
  out.emplace_back("tokenizer_config.json", cfg.dump(2) + "\n");
  ojson map = {{"bos_token", token(tok.bos_id())},
               {"eos_token", token(tok.eos_id())},
               {"pad_token", token(tok.pad_id())},
               {"additional_special_tokens", tok.added_tokens()}};
  out.emplace_back("special_tokens_map.json", map.dump(2) + "\n");
  return out;
}

std::vector<std::string> describe_tokenizer(const Tokenizer& tok) {
  std::vector<std::string> out;
  auto name = [&](int32_t id) {
    return id >= 0 ? fmt::format("{} ({})", tok.id_to_piece(id), id) : std::string("none");
  };
  out.push_back(
      fmt::format("tokenizer: {} {}", tok.kind() == "bpe" ? "byte-level BPE" : "SentencePiece", tok.origin()));
  out.push_back(fmt::format("  vocabulary {} ({} from the file, {} added by mmtrain), bos {}, eos {}, pad {}",
                            tok.vocab_size(), tok.base_vocab_size(), tok.added_tokens().size(), name(tok.bos_id()),
                            name(tok.eos_id()), name(tok.pad_id())));
  if (!tok.added_tokens().empty()) {
    const auto& a = tok.added_tokens();
    std::string list;
    for (size_t i = 0; i < a.size() && i < 8; ++i) list += (i ? " " : "") + a[i];
    if (a.size() > 8)
      list += fmt::format(" ... {} (ids {}..{})", a.back(), tok.base_vocab_size(), tok.vocab_size() - 1);
    out.push_back("  added: " + list);
  }
  const std::string& jinja = tok.folder_chat_template();
  out.push_back(fmt::format("  chat template {}{}", tok.config().chat_template,
                            jinja.empty()
                                ? std::string(" (the folder has none)")
                                : fmt::format(" (the folder's is {})", recognise_chat_template(jinja).empty()
                                                                           ? std::string("not recognised")
                                                                           : recognise_chat_template(jinja))));
  return out;
}

}  // namespace mm::tok
