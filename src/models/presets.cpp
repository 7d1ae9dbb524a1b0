// Model presets read from the compiled-in configs/models/*.yaml (see presets.h).
#include "models/presets.h"

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "core/check.h"
#include "core/config/config.h"

namespace mm {
namespace presets_detail {
// {path relative to the source tree, text} of every preset file, in the order of
// MM_PRESET_NAMES (generated at build time by cmake/embed_text.cmake, src/models/CMakeLists.txt).
const std::vector<std::pair<std::string, std::string>>& preset_files();
}  // namespace presets_detail

namespace {

const std::string kDir = "configs/models/";
const std::string kExt = ".yaml";

// A preset file: a `model:` section and nothing else.
struct PresetFile {
  ModelConfig model;
  template <class V>
  void visit(V& v) {
    v("model", model, "the preset");
  }
};

std::optional<std::string> embedded_text(const std::string& path) {
  for (const auto& [p, text] : presets_detail::preset_files())
    if (p == path) return text;
  return std::nullopt;
}

}  // namespace

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& f : presets_detail::preset_files())
    names.push_back(f.first.substr(kDir.size(), f.first.size() - kDir.size() - kExt.size()));
  return names;
}

std::string model_preset_yaml(const std::string& name) { return embedded_text(kDir + name + kExt).value_or(""); }

ModelConfig model_preset(const std::string& name) {
  const std::string path = kDir + name + kExt;
  MM_CHECK(embedded_text(path).has_value(), "model preset '{}' is unknown; valid presets: {}", name,
           fmt::join(model_preset_names(), ", "));
  return cfg::from_tree<PresetFile>(cfg::load_yaml_file(path, embedded_text)).model;
}

}  // namespace mm
