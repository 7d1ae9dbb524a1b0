// The reading half of the typed config layer (config.h includes it; include config.h): the type
// traits of visit() structs, strict text parsers, and Reader, which walks a ConfigTree into a struct
// checking unknown keys, types, rules, required keys and validate().
#pragma once
#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "core/config/config_tree.h"
#include "core/config/rules.h"
#include "core/hash.h"

namespace mm::cfg::detail {

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};

// A visitor that accepts every field, used only to detect visit().
struct AnyVisitor {
  template <class F>
  void operator()(const char*, F&, const char*, const Rule& = Rule{}) {}
};
template <class T, class = void>
struct has_visit : std::false_type {};
template <class T>
struct has_visit<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<AnyVisitor&>()))>> : std::true_type {};
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(std::declval<const T&>().validate(std::declval<Problems&>()))>>
    : std::true_type {};

template <class T>
constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// A field kept as JSON, unread (a loader's resume state inside state.json): any value passes.
template <class T>
constexpr bool is_json_v = nlohmann::detail::is_basic_json<T>::value;

inline std::string join_key(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
inline std::string join_index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

// "(configs/x.yaml:12)" / "(--set a=b)" / "" for a value nobody wrote (a default).
inline std::string where(const ConfigTree& tree, const std::string& path) {
  std::string o = tree.origin_of(path);
  return o.empty() ? std::string() : " (" + o + ")";
}

// How a value the user wrote reads in a message: 'abc', a list, a map, nothing.
inline std::string describe(const Json& node) {
  if (node.is_null()) return "nothing (null)";
  if (node.is_object()) return "a map";
  if (node.is_array()) return "a list";
  if (node.is_string()) return "'" + node.get<std::string>() + "'";
  return "'" + node.dump() + "'";
}

// `value` (an input path written at `origin`, "configs/x.yaml:12" / "--set ..." / "") made
// absolute: a relative path is joined to the folder of the config file that wrote it, else to the
// working directory. Empty values and `rule.path_words` stay as written.
std::string resolve_input_path(const std::string& value, const std::string& origin, const Rule& rule);

// "in [0, 1]", "> 0", ">= 0", "<= 5": the numeric bounds of a rule ("" without bounds).
std::string bounds_text(const Rule& rule);

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (is_int_v<T>)
    return "integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (is_vector<T>::value)
    return "list";
  else if constexpr (is_string_map<T>::value)
    return "map";
  else if constexpr (is_json_v<T>)
    return "any";
  else
    return "map";
}

// Strict text -> value parsers (the whole text must be consumed). false = not that type.
inline bool parse_bool(const std::string& s, bool& out) {
  static const char* yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const char* no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  for (const char* y : yes)
    if (s == y) return out = true, true;
  for (const char* n : no)
    if (s == n) return out = false, true;
  return false;
}
template <class T>
bool parse_int(const std::string& s, T& out) {
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e && b != e;
}
inline bool looks_integer(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}
inline bool parse_double(const std::string& s, double& out) {
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") return out = HUGE_VAL, true;
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return out = -HUGE_VAL, true;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return out = std::nan(""), true;
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const char* b = s.c_str();
  char* end = nullptr;
  errno = 0;
  out = std::strtod(b, &end);
  if (end != b + s.size()) return false;
  // reject hex floats, "inf"/"nan" spellings that YAML does not use
  for (char c : s)
    if (c == 'x' || c == 'X' || c == 'n' || c == 'N' || c == 'i' || c == 'I') return false;
  return errno != ERANGE || std::abs(out) < 1.0;  // overflow is an error; underflow to ~0 is fine
}

// ---- Reading ---------------------------------------------------------------------------------

class Reader {
 public:
  Reader(const ConfigTree& tree, std::vector<std::string> all_keys) : tree_(tree), all_keys_(std::move(all_keys)) {}

  // Reads `node` (null = not written: keep the defaults in `out`) into `out`.
  template <class T>
  void read(const Json* node, const std::string& path, T& out, const Rule& rule) {
    if constexpr (is_json_v<T>) {
      if (node) out = T(*node);
      return;
    } else if constexpr (has_visit<T>::value) {
      read_struct(node, path, out);
    } else if constexpr (is_vector<T>::value) {
      if (node && !node->is_null()) {
        if (!node->is_array()) type_error(path, "list", *node);
        T items;
        for (size_t i = 0; i < node->size(); ++i) {
          typename T::value_type item{};
          read(&(*node)[i], join_index(path, i), item, element_rule(rule));
          items.push_back(std::move(item));
        }
        out = std::move(items);
      }
    } else if constexpr (is_string_map<T>::value) {
      if (node && !node->is_null()) {
        if (!node->is_object()) type_error(path, "map", *node);
        for (auto it = node->begin(); it != node->end(); ++it) {
          if (it.value().is_null()) {  // `key: ~` removes an entry (e.g. one set by a parent file)
            out.erase(it.key());
            continue;
          }
          read(&it.value(), join_key(path, it.key()), out[it.key()], element_rule(rule));
        }
      }
    } else {
      if (node) read_scalar(*node, path, out);
      if constexpr (std::is_same_v<T, std::string>)
        if (node && rule.input_path) out = resolve_input_path(out, tree_.origin_of(path), rule);
    }
    check_rule(path, out, rule);
  }

  template <class T>
  void read_struct(const Json* node, const std::string& path, T& out) {
    if (node && !node->is_null() && !node->is_object()) type_error(path, "map", *node);
    std::vector<std::string> keys;
    auto lister = [&keys](const char* key, auto&, const char*, const Rule& = Rule{}) { keys.emplace_back(key); };
    out.visit(lister);
    if (node && node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        bool known = false;
        for (const auto& k : keys) known |= (k == it.key());
        if (!known) unknown_key(path, it.key(), keys);
      }
    }
    auto reader = [&](const char* key, auto& field, const char*, const Rule& rule = Rule{}) {
      std::string child_path = join_key(path, key);
      const Json* child = nullptr;
      if (node && node->is_object()) {
        auto it = node->find(key);
        if (it != node->end()) child = &*it;
      }
      if (!child && rule.required) {
        throw ConfigError(fmt::format("missing required key '{}'{}", child_path, where(tree_, path)));
      }
      read(child, child_path, field, rule);
    };
    out.visit(reader);
    if constexpr (has_validate<T>::value) {
      Problems problems;
      out.validate(problems);
      if (!problems.items().empty()) {
        const auto& [key, msg] = problems.items().front();
        std::string p = key.empty() ? path : join_key(path, key);
        throw ConfigError(fmt::format("{}: {}{}", p.empty() ? "config" : p, msg, where(tree_, p)));
      }
    }
  }

 private:
  static Rule element_rule(const Rule& r) {
    Rule e;  // bounds and choices apply to each element; the rest to the container
    e.min = r.min, e.max = r.max, e.min_exclusive = r.min_exclusive, e.max_exclusive = r.max_exclusive;
    e.choices = r.choices;
    e.input_path = r.input_path, e.path_words = r.path_words;
    return e;
  }

  [[noreturn]] void type_error(const std::string& path, const char* expected, const Json& node) const {
    throw ConfigError(fmt::format("{}: expected {}, got {}{}", path, expected, describe(node), where(tree_, path)));
  }

  [[noreturn]] void unknown_key(const std::string& path, const std::string& key,
                                const std::vector<std::string>& siblings) const;

  template <class T>
  void read_scalar(const Json& node, const std::string& path, T& out) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (node.is_null())
        out.clear();  // `root:` with no value: empty string
      else if (node.is_string())
        out = node.get<std::string>();
      else if (node.is_primitive())
        out = node.dump();
      else
        type_error(path, "string", node);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (node.is_boolean())
        out = node.get<bool>();
      else if (!node.is_string() || !parse_bool(node.get<std::string>(), out))
        type_error(path, "true or false", node);
    } else if constexpr (is_int_v<T>) {
      bool ok = false;
      if (node.is_number_integer() || node.is_number_unsigned()) {
        ok = true;
        if constexpr (std::is_signed_v<T>) {
          auto v = node.get<long long>();
          ok = !node.is_number_unsigned() ||
               node.get<unsigned long long>() <= (unsigned long long)std::numeric_limits<long long>::max();
          ok = ok && v >= (long long)std::numeric_limits<T>::min() && v <= (long long)std::numeric_limits<T>::max();
          if (ok) out = static_cast<T>(v);
        } else {
          ok = node.is_number_unsigned() && node.get<unsigned long long>() <= std::numeric_limits<T>::max();
          if (ok) out = static_cast<T>(node.get<unsigned long long>());
        }
      } else if (node.is_string()) {
        const std::string& text = node.get_ref<const std::string&>();
        ok = parse_int(text, out);
        if (!ok && looks_integer(text))
          throw ConfigError(fmt::format("{}: integer {} out of range [{}, {}]{}", path, text,
                                        std::numeric_limits<T>::min(), std::numeric_limits<T>::max(),
                                        where(tree_, path)));
      }
      if (!ok) type_error(path, "integer", node);
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      bool ok = false;
      if (node.is_number())
        ok = true, v = node.get<double>();
      else if (node.is_string())
        ok = parse_double(node.get<std::string>(), v);
      if (!ok) type_error(path, "number", node);
      out = static_cast<T>(v);
    } else {
      static_assert(sizeof(T) == 0,
                    "config field type not supported: use bool, integers, "
                    "floating point, std::string, a visit() struct, vector, map");
    }
  }

  template <class T>
  void check_rule(const std::string& path, const T& value, const Rule& rule) const {
    if (rule.empty()) return;
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
      double x = static_cast<double>(value);
      bool low = rule.min && (rule.min_exclusive ? !(x > *rule.min) : !(x >= *rule.min));
      bool high = rule.max && (rule.max_exclusive ? !(x < *rule.max) : !(x <= *rule.max));
      // A bounded number is a finite one: "> 0" does not admit .inf (an lr of .inf trains to nothing).
      if (low || high || ((rule.min || rule.max) && !std::isfinite(x))) {
        throw ConfigError(fmt::format("{}: must be {}{}, got {}{}", path, std::isinf(x) ? "a finite number " : "",
                                      bounds_text(rule), value, where(tree_, path)));
      }
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (rule.non_empty && value.empty())
        throw ConfigError(fmt::format("{}: must not be empty{}", path, where(tree_, path)));
      if (!rule.choices.empty()) {
        bool ok = false;
        for (const auto& c : rule.choices) ok |= (c == value);
        if (!ok)
          throw ConfigError(fmt::format("{}: expected one of {}, got '{}'{}", path, fmt::join(rule.choices, " | "),
                                        value, where(tree_, path)));
      }
    } else if constexpr (is_vector<T>::value || is_string_map<T>::value) {
      if (rule.non_empty && value.empty())
        throw ConfigError(fmt::format("{}: must not be empty{}", path, where(tree_, path)));
      if (rule.nonzero_sum) {
        double sum = 0;
        if constexpr (is_vector<T>::value) {
          if constexpr (std::is_arithmetic_v<typename T::value_type>)
            for (const auto& x : value) sum += static_cast<double>(x);
        } else {
          if constexpr (std::is_arithmetic_v<typename T::mapped_type>)
            for (const auto& kv : value) sum += static_cast<double>(kv.second);
        }
        if (sum == 0)
          throw ConfigError(
              fmt::format("{}: weights must not all be zero (they sum to 0){}", path, where(tree_, path)));
      }
    }
  }

  const ConfigTree& tree_;
  std::vector<std::string> all_keys_;  // every key path of the root type, for suggestions
};

}  // namespace mm::cfg::detail
