// Typed JSON -> canonical YAML text (the resolved-config dump and its hash input). One of the two
// files that include yaml-cpp (the other is config_tree.cpp).
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "core/config/config.h"
#include "core/config/config_tree.h"

namespace mm::cfg {
namespace {

// A string that a YAML reader would take for null, a boolean or a number must be quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* special[] = {"~", "null", "Null", "NULL", "y", "Y", "n", "N"};
  for (const char* w : special)
    if (s == w) return true;
  bool b = false;
  double d = 0;
  long long i = 0;
  return detail::parse_bool(s, b) || detail::parse_double(s, d) || detail::parse_int(s, i) || s.front() == ' ' ||
         s.back() == ' ';
}

// Shortest text that reads back to exactly `x`, always recognisable as a float.
std::string double_text(double x) {
  if (std::isnan(x)) return ".nan";
  if (std::isinf(x)) return x > 0 ? ".inf" : "-.inf";
  std::string s = fmt::format("{}", x);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

bool is_scalar(const Json& j) { return !j.is_object() && !j.is_array(); }

void emit(YAML::Emitter& e, const Json& j) {
  switch (j.type()) {
    case Json::value_t::object:
      if (j.empty()) {
        e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      e << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        e << YAML::Key;
        if (needs_quotes(it.key())) e << YAML::DoubleQuoted;
        e << it.key() << YAML::Value;
        emit(e, it.value());
      }
      e << YAML::EndMap;
      return;
    case Json::value_t::array: {
      bool flat = std::all_of(j.begin(), j.end(), is_scalar);
      if (flat) e << YAML::Flow;
      e << YAML::BeginSeq;
      for (const auto& x : j) emit(e, x);
      e << YAML::EndSeq;
      return;
    }
    case Json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (needs_quotes(s)) e << YAML::DoubleQuoted;
      e << s;
      return;
    }
    case Json::value_t::boolean:
      e << (j.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
      e << std::to_string(j.get<long long>());
      return;
    case Json::value_t::number_unsigned:
      e << std::to_string(j.get<unsigned long long>());
      return;
    case Json::value_t::number_float:
      e << double_text(j.get<double>());
      return;
    default:
      e << YAML::Null;
      return;
  }
}

}  // namespace

std::string emit_yaml(const Json& value) {
  YAML::Emitter e;
  emit(e, value);
  MM_CHECK(e.good(), "YAML emitter failed: {}", e.GetLastError());
  return std::string(e.c_str()) + "\n";
}

namespace detail {

std::string flow_text(const Json& value) {
  YAML::Emitter e;
  e << YAML::Flow;
  emit(e, value);
  MM_CHECK(e.good(), "YAML emitter failed: {}", e.GetLastError());
  return e.c_str();
}

}  // namespace detail
}  // namespace mm::cfg
