#include "data_pipeline/formats/json_formats.h"

#include <fmt/format.h>

#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/formats/record_check.h"

namespace mm::data {

using nlohmann::json;

namespace {

const char* type_name(const json& v) { return v.type_name(); }

void require_object(const json& j) {
  if (!j.is_object())
    throw BadRecord(QuarantineKind::WrongType, fmt::format("record is a JSON {}, expected an object", type_name(j)));
}

// j[key], which must exist (MissingField) and satisfy `ok` (WrongType, naming `expected`).
template <class Pred>
const json& require(const json& j, const char* key, Pred ok, const char* expected) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw BadRecord(QuarantineKind::MissingField, fmt::format("missing \"{}\"", key));
  if (!ok(*it))
    throw BadRecord(QuarantineKind::WrongType,
                    fmt::format("\"{}\" is a JSON {}, expected {}", key, type_name(*it), expected));
  return *it;
}

bool is_str(const json& v) { return v.is_string(); }
bool is_arr(const json& v) { return v.is_array(); }

ImageRef file_image(const RecordContext& ctx, const std::string& rel) {
  if (std::string why = image_path_problem(rel, ctx.allow_outside_root); !why.empty())
    throw BadRecord(QuarantineKind::ImagePath, why);
  ImageRef r;
  r.path = join_root(ctx.root, rel);
  return r;
}

}  // namespace

std::string json_record_id(const json& j) {
  if (!j.is_object()) return "";
  auto it = j.find("id");
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer() || it->is_number_unsigned()) return it->dump();
  return "";
}

RawSample convert_captions(const json& j, const RecordContext& ctx) {
  require_object(j);
  const auto& image = require(j, "image", is_str, "a string (image path)");
  const auto& caption = require(j, "caption", is_str, "a string");
  if (is_blank(caption.get_ref<const std::string&>())) throw BadRecord(QuarantineKind::EmptyText, "caption is empty");
  if (is_blank(image.get_ref<const std::string&>()))
    throw BadRecord(QuarantineKind::MissingField, "\"image\" is an empty path");
  RawSample s;
  s.turns.push_back({Role::Text, std::string(kImagePlaceholder) + "\n" + caption.get<std::string>()});
  s.images.push_back(file_image(ctx, image.get<std::string>()));
  validate_sample(s, ctx.check_boxes);
  return s;
}

RawSample convert_interleaved(const json& j, const RecordContext& ctx) {
  require_object(j);
  const auto& texts = require(j, "texts", is_arr, "an array of strings and nulls");
  const auto& images = require(j, "images", is_arr, "an array of paths and nulls");
  if (texts.size() != images.size())
    throw BadRecord(QuarantineKind::WrongType,
                    fmt::format("\"texts\" has {} entries but \"images\" has {} (OBELICS layout: equal lengths)",
                                texts.size(), images.size()));
  RawSample s;
  std::string doc;
  bool any_text = false;
  for (size_t i = 0; i < texts.size(); ++i) {
    const json& t = texts[i];
    const json& im = images[i];
    if (t.is_null() == im.is_null())
      throw BadRecord(QuarantineKind::WrongType,
                      fmt::format("position {} holds {} (expected exactly one of a text or an image)", i,
                                  t.is_null() ? "neither a text nor an image" : "both a text and an image"));
    if (!doc.empty()) doc += '\n';
    if (!t.is_null()) {
      if (!t.is_string())
        throw BadRecord(QuarantineKind::WrongType,
                        fmt::format("texts[{}] is a JSON {}, expected a string", i, type_name(t)));
      if (is_blank(t.get_ref<const std::string&>()))
        throw BadRecord(QuarantineKind::EmptyText, fmt::format("texts[{}] is empty", i));
      doc += t.get_ref<const std::string&>();
      any_text = true;
    } else {
      if (!im.is_string() || is_blank(im.get_ref<const std::string&>()))
        throw BadRecord(QuarantineKind::WrongType,
                        fmt::format("images[{}] is a JSON {}, expected a path", i, type_name(im)));
      doc += kImagePlaceholder;
      s.images.push_back(file_image(ctx, im.get<std::string>()));
    }
  }
  if (!any_text) throw BadRecord(QuarantineKind::EmptyText, "document has no text");
  s.turns.push_back({Role::Text, std::move(doc)});
  validate_sample(s, ctx.check_boxes);
  return s;
}

RawSample convert_llava(const json& j, const RecordContext& ctx) {
  require_object(j);
  RawSample s;
  // "image": a path, a list of paths, or absent / null (text-only conversation). "images" is
  // accepted as a synonym when "image" is absent.
  const char* image_key = j.contains("image") ? "image" : "images";
  auto it = j.find(image_key);
  if (it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      s.images.push_back(file_image(ctx, it->get<std::string>()));
    } else if (it->is_array()) {
      for (size_t k = 0; k < it->size(); ++k) {
        const json& p = (*it)[k];
        if (!p.is_string())
          throw BadRecord(QuarantineKind::WrongType,
                          fmt::format("\"{}\"[{}] is a JSON {}, expected a path", image_key, k, type_name(p)));
        s.images.push_back(file_image(ctx, p.get<std::string>()));
      }
    } else {
      throw BadRecord(QuarantineKind::WrongType, fmt::format("\"{}\" is a JSON {}, expected a path or a list of paths",
                                                             image_key, type_name(*it)));
    }
    for (const auto& im : s.images)
      if (is_blank(im.path))
        throw BadRecord(QuarantineKind::MissingField, fmt::format("\"{}\" holds an empty path", image_key));
  }
  const auto& conv = require(j, "conversations", is_arr, "an array of {\"from\", \"value\"} turns");
  bool has_assistant = false;
  for (size_t k = 0; k < conv.size(); ++k) {
    const json& turn = conv[k];
    if (!turn.is_object())
      throw BadRecord(QuarantineKind::WrongType,
                      fmt::format("conversations[{}] is a JSON {}, expected an object", k, type_name(turn)));
    auto from = turn.find("from");
    auto value = turn.find("value");
    if (from == turn.end() || value == turn.end())
      throw BadRecord(QuarantineKind::MissingField,
                      fmt::format("conversations[{}] lacks \"{}\"", k, from == turn.end() ? "from" : "value"));
    if (!from->is_string() || !value->is_string())
      throw BadRecord(QuarantineKind::WrongType,
                      fmt::format("conversations[{}]: \"from\" and \"value\" must be strings", k));
    const std::string& who = from->get_ref<const std::string&>();
    Role role;
    if (who == "human" || who == "user")
      role = Role::User;
    else if (who == "gpt" || who == "assistant")
      role = Role::Assistant;
    else if (who == "system")
      role = Role::System;
    else
      throw BadRecord(
          QuarantineKind::WrongType,
          fmt::format("conversations[{}]: unknown role \"{}\" (expected human|user|gpt|assistant|system)", k, who));
    has_assistant |= role == Role::Assistant;
    s.turns.push_back({role, value->get<std::string>()});
  }
  if (!has_assistant)
    throw BadRecord(QuarantineKind::NoAssistantTurn,
                    fmt::format("conversation of {} turn(s) has no assistant (\"gpt\") turn", conv.size()));
  if (!s.images.empty() && count_image_placeholders(s) == 0) {
    for (auto& t : s.turns)
      if (t.role == Role::User) {
        std::string prefix;
        for (size_t k = 0; k < s.images.size(); ++k) prefix += std::string(kImagePlaceholder) + "\n";
        t.text = prefix + t.text;
        break;
      }
  }
  validate_sample(s, ctx.check_boxes);
  return s;
}

RawSample convert_text(const json& j, const RecordContext& ctx) {
  require_object(j);
  const auto& text = require(j, "text", is_str, "a string");
  RawSample s;
  s.turns.push_back({Role::Text, text.get<std::string>()});
  validate_sample(s, ctx.check_boxes);
  return s;
}

}  // namespace mm::data
