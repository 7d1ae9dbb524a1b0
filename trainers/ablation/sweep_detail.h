// Internals shared by sweep.cpp and plan.cpp: a sweep file's value as --set text.
#pragma once
#include <string>

#include "core/config/config_tree.h"  // cfg::Json

namespace mm::ablation::detail {

// A value of the sweep file as the text after `key=` (scalars as written, lists and maps as flow YAML).
std::string value_text(const cfg::Json& v);
// "key=value".
std::string set_entry(const std::string& key, const cfg::Json& v);

}  // namespace mm::ablation::detail
