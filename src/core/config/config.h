// The typed config layer over visit(): reads a ConfigTree into any struct whose visit(v) lists its
// fields as v("key", field, "doc"[, rule]), checks unknown keys (with a suggestion), types, rules
// (rules.h), required keys and the struct's optional validate(); writes a struct back to JSON/YAML,
// hashes it, and lists its keys for the reference docs. Supported fields: bool, integers, floating
// point, std::string, nested visit() structs, std::vector<T>, std::map<std::string, T>, and JSON
// values (nlohmann::json / ordered_json) kept as written.
#pragma once
#include <string>
#include <vector>

#include "core/config/config_reader.h"  // detail: traits, parsers, Reader
#include "core/config/config_tree.h"
#include "core/config/rules.h"
#include "core/hash.h"

namespace mm::cfg {

namespace detail {

// ---- Writing ---------------------------------------------------------------------------------

template <class T>
Json write(const T& value) {
  if constexpr (is_json_v<T>) {
    return Json(value);
  } else if constexpr (has_visit<T>::value) {
    Json j = Json::object();
    auto writer = [&j](const char* key, auto& field, const char*, const Rule& = Rule{}) { j[key] = write(field); };
    const_cast<T&>(value).visit(writer);  // visit() is non-const by convention; writer only reads
    return j;
  } else if constexpr (is_vector<T>::value) {
    Json j = Json::array();
    for (const auto& x : value) j.push_back(write(x));
    return j;
  } else if constexpr (is_string_map<T>::value) {
    Json j = Json::object();
    for (const auto& [k, x] : value) j[k] = write(x);
    return j;
  } else if constexpr (std::is_same_v<T, float>) {
    // the double nearest the float's shortest text: dumps "0.1", not "0.10000000149011612"
    return Json(std::strtod(fmt::format("{}", value).c_str(), nullptr));
  } else if constexpr (std::is_floating_point_v<T>) {
    return Json(static_cast<double>(value));
  } else {
    return Json(value);
  }
}

// ---- Key reference ---------------------------------------------------------------------------

struct KeyInfo {
  std::string path;           // "model.llm.layers", "data.sources[].weight", "mixture.<name>"
  std::string type;           // integer | number | boolean | string | list | map
  std::string default_value;  // YAML flow text of the default ("" for sections)
  std::string rule;           // "required, > 0", "one of a | b"
  std::string doc;
  bool section = false;  // a nested struct (its keys follow)
};

std::string describe_rule(const Rule& rule);
std::string flow_text(const Json& value);  // one-line YAML of a value

template <class T>
void list_keys(const std::string& path, std::vector<KeyInfo>& out) {
  T defaults{};
  auto lister = [&](const char* key, auto& field, const char* doc, const Rule& rule = Rule{}) {
    using F = std::decay_t<decltype(field)>;
    std::string p = join_key(path, key);
    KeyInfo info{p, type_name<F>(), "", describe_rule(rule), doc ? doc : "", has_visit<F>::value};
    if (!has_visit<F>::value) info.default_value = flow_text(write(field));
    out.push_back(info);
    if constexpr (has_visit<F>::value) {
      list_keys<F>(p, out);
    } else if constexpr (is_vector<F>::value) {
      if constexpr (has_visit<typename F::value_type>::value) {
        out.back().type = "list of maps";
        list_keys<typename F::value_type>(p + "[]", out);
      } else {
        out.back().type = std::string("list of ") + type_name<typename F::value_type>();
      }
    } else if constexpr (is_string_map<F>::value) {
      if constexpr (has_visit<typename F::mapped_type>::value) {
        out.back().type = "map of maps";
        list_keys<typename F::mapped_type>(p + ".<name>", out);
      } else {
        out.back().type = std::string("map of ") + type_name<typename F::mapped_type>();
      }
    }
  };
  defaults.visit(lister);
}

}  // namespace detail

// Every key of T (depth first, in visit() order) with type, default, rule and doc.
template <class T>
std::vector<detail::KeyInfo> key_reference() {
  std::vector<detail::KeyInfo> keys;
  detail::list_keys<T>("", keys);
  return keys;
}

// Reads a merged tree into a T that starts from its defaults. Throws ConfigError.
template <class T>
T from_tree(const ConfigTree& tree) {
  std::vector<std::string> all;
  for (const auto& k : key_reference<T>()) all.push_back(k.path);
  T out{};
  detail::Reader(tree, std::move(all)).read_struct(&tree.root, "", out);
  return out;
}

// Defaults < `path` (with its inherit chain; "" = none) < each --set, in order.
template <class T>
T load_config(const std::string& path, const std::vector<std::string>& sets = {}) {
  ConfigTree tree = path.empty() ? ConfigTree{} : load_yaml_file(path);
  for (const auto& s : sets) apply_set(tree, s);
  return from_tree<T>(tree);
}

// Same from YAML text (tests, embedded presets); `source` names it in errors.
template <class T>
T parse_config(const std::string& yaml, const std::vector<std::string>& sets = {},
               const std::string& source = "<text>") {
  ConfigTree tree = parse_yaml_text(yaml, source);
  for (const auto& s : sets) apply_set(tree, s);
  return from_tree<T>(tree);
}

// The struct as JSON, keys in visit() order.
template <class T>
Json to_ordered_json(const T& value) {
  return detail::write(value);
}

// The canonical YAML dump; loading it back gives an identical T.
template <class T>
std::string to_yaml(const T& value) {
  return emit_yaml(detail::write(value));
}

// A stable hash of the canonical dump (FNV-1a 64, 16 hex digits).
template <class T>
std::string hash_of(const T& value) {
  return fnv1a64_hex(to_yaml(value));
}

}  // namespace mm::cfg
