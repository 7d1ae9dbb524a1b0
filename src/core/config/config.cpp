// The non-template parts of the typed config layer: unknown-key suggestions and rule text.
#include "core/config/config.h"

#include <filesystem>

namespace mm::cfg::detail {

void Reader::unknown_key(const std::string& path, const std::string& key,
                         const std::vector<std::string>& siblings) const {
  const std::string full = join_key(path, key);
  std::string hint;
  // 1. a sibling spelled almost the same ("lr_maxx" -> "lr_max")
  std::string close = closest_key(key, siblings);
  if (!close.empty()) {
    hint = fmt::format(" (did you mean '{}'?)", join_key(path, close));
  } else {
    // 2. the same name elsewhere in the schema ("model.layers" -> "model.llm.layers")
    std::vector<std::string> same_leaf;
    for (const auto& k : all_keys_) {
      size_t cut = k.find_last_of('.');
      std::string leaf = cut == std::string::npos ? k : k.substr(cut + 1);
      if (leaf == key) same_leaf.push_back("'" + k + "'");
    }
    if (!same_leaf.empty()) {
      hint = fmt::format(" (did you mean {}?)", fmt::join(same_leaf, " or "));
    } else if (!siblings.empty()) {
      // 3. the valid keys at this level
      hint = fmt::format(" (valid keys{}: {})", path.empty() ? "" : " under '" + path + "'", fmt::join(siblings, ", "));
    }
  }
  std::string origin = tree_.origin_of(full);
  throw ConfigError(fmt::format("unknown key '{}'{}{}", full, origin.empty() ? "" : " in " + origin, hint));
}

std::string resolve_input_path(const std::string& value, const std::string& origin, const Rule& rule) {
  namespace fs = std::filesystem;
  // "hf:DIR" (a Hugging Face folder, model.llm.from): DIR is resolved, the prefix kept.
  if (value.rfind("hf:", 0) == 0 && value.size() > 3) return "hf:" + resolve_input_path(value.substr(3), origin, rule);
  if (value.empty() || fs::path(value).is_absolute()) return value;
  for (const auto& w : rule.path_words)
    if (value == w) return value;
  fs::path base;  // a value from --set or a default: the working directory
  if (!origin.empty() && origin.rfind("--set ", 0) != 0) {
    // "dir/file.yaml:12" -> "dir"; an origin without a line number is the file itself
    std::string file = origin;
    size_t colon = file.find_last_of(':');
    if (colon != std::string::npos && colon + 1 < file.size() &&
        file.find_first_not_of("0123456789", colon + 1) == std::string::npos)
      file.resize(colon);
    base = fs::path(file).parent_path();
  }
  const fs::path dir = base.empty() ? fs::current_path() : fs::absolute(base);  // absolute("") throws
  return (dir / value).lexically_normal().string();
}

std::string bounds_text(const Rule& r) {
  if (r.min && r.max) {
    return fmt::format("in {}{}, {}{}", r.min_exclusive ? "(" : "[", *r.min, *r.max, r.max_exclusive ? ")" : "]");
  }
  if (r.min) return fmt::format("{} {}", r.min_exclusive ? ">" : ">=", *r.min);
  if (r.max) return fmt::format("{} {}", r.max_exclusive ? "<" : "<=", *r.max);
  return "";
}

std::string describe_rule(const Rule& r) {
  std::vector<std::string> parts;
  if (r.required) parts.emplace_back("required");
  if (std::string b = bounds_text(r); !b.empty()) parts.push_back(b);
  if (!r.choices.empty()) parts.push_back(fmt::format("one of {}", fmt::join(r.choices, " | ")));
  if (r.non_empty) parts.emplace_back("not empty");
  if (r.nonzero_sum) parts.emplace_back("not all zero");
  if (r.input_path) parts.emplace_back("path relative to its config file");
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace mm::cfg::detail
