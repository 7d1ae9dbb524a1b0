// The JSON record layouts: one converter per format, JSON object -> RawSample (turns + image
// paths joined to the root). Converters throw BadRecord for a malformed record; they do not
// touch the disk (image existence is checked when the record is read).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "data_pipeline/sample.h"

namespace mm::data {

struct RecordContext {
  std::string root;                 // image paths are relative to this
  bool check_boxes = true;          // see validate_sample
  bool allow_outside_root = false;  // the path policy (image_path_problem in file_io.h)
};

// Converts and validates one record (validate_sample is applied).
using JsonConverter = RawSample (*)(const nlohmann::json& j, const RecordContext& ctx);

// {"image": path, "caption": text}  -> one Text turn "<image>\n<caption>".
RawSample convert_captions(const nlohmann::json& j, const RecordContext& ctx);
// {"texts": [str|null...], "images": [path|null...]} -> one Text turn, the pieces in order
// joined by "\n", each image as "<image>".
RawSample convert_interleaved(const nlohmann::json& j, const RecordContext& ctx);
// {"id", "image": path | [paths] (optional), "conversations": [{"from", "value"}...]}
// -> System/User/Assistant turns. Images without any placeholder: "<image>\n" (one per image)
// is prepended to the first user turn (LLaVA's convention).
RawSample convert_llava(const nlohmann::json& j, const RecordContext& ctx);
// {"text": str} -> one Text turn.
RawSample convert_text(const nlohmann::json& j, const RecordContext& ctx);

// The record's own "id" (string or integer) or "" when it has none.
std::string json_record_id(const nlohmann::json& j);

}  // namespace mm::data
