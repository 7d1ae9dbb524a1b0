// The untyped config tree: YAML files (with `inherit:`) and --set overrides merged into one JSON
// tree whose scalars stay as written, plus where each key came from (file:line or --set), so the
// typed layer (config.h) can name file and key in every error. The only users of yaml-cpp are
// config_tree.cpp and yaml_emit.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/check.h"

namespace mm::cfg {

using Json = nlohmann::ordered_json;

// A config error: one line naming the file (or --set) and the key path. No source file:line.
class ConfigError : public mm::Error {
 public:
  explicit ConfigError(const std::string& msg) : mm::Error(msg) {}
};

struct ConfigTree {
  // Maps, lists, scalars as strings exactly as written (null for YAML's ~ / empty values).
  Json root = Json::object();
  // Key path ("model.llm.layers", "data.sources[2].weight") -> "configs/x.yaml:12" or
  // "--set model.llm.layers=4". Paths not listed inherit their parent's origin.
  std::map<std::string, std::string> origins;

  // Where `path` (or its closest listed parent) was written; "" if nowhere (a default).
  std::string origin_of(const std::string& path) const;
};

// Reads a YAML file and, recursively, the files it inherits (`inherit: [a.yaml, b.yaml]` at the
// top level, paths relative to the including file). Later parents override earlier ones; the
// file itself overrides its parents. A cycle throws ConfigError naming the chain.
ConfigTree load_yaml_file(const std::string& path);

// The text of a config file by its path (as named, joined to the including file's folder), or
// nullopt when there is no such file.
using TextReader = std::function<std::optional<std::string>(const std::string& path)>;

// load_yaml_file with the file and its inherit chain read through `read` instead of from disk:
// texts compiled into the binary (models/presets.h). Paths are compared lexically.
ConfigTree load_yaml_file(const std::string& path, const TextReader& read);

// Parses YAML text (no inherit); `source` names it in origins and errors.
ConfigTree parse_yaml_text(const std::string& text, const std::string& source);

// Applies one `a.b[1].c=value` override; the value is parsed as YAML ("[1, 2]", "{a: 1}").
void apply_set(ConfigTree& tree, const std::string& assignment);

// Deep-merges `over` into `base`: maps merge key by key, anything else replaces.
void merge_into(ConfigTree& base, const ConfigTree& over);

// Emits a typed JSON value as block YAML (flow style for lists of scalars); strings that would
// read back as another type are quoted, doubles use the shortest exact form.
std::string emit_yaml(const Json& value);

// The key closest to `key` among `candidates` (edit distance), or "" if none is close.
std::string closest_key(const std::string& key, const std::vector<std::string>& candidates);

}  // namespace mm::cfg
