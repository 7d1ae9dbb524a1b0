// Model presets: configs/models/*.yaml is their only source, compiled in (models/presets.h); every
// file is a preset, the compiled-in text is the file's, and the sizes docs/models.md documents are
// the analytic counts (models/model_size.h) rounded; the paper-sized presets land on their nominal
// sizes (the big models are never instantiated).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "models/model_size.h"
#include "models/presets.h"

using namespace mm;
using Catch::Matchers::Contains;

TEST_CASE("every configs/models YAML is a compiled-in preset that reads like the file", "[presets]") {
  const std::filesystem::path dir = std::filesystem::path(MM_SOURCE_DIR) / "configs" / "models";
  const auto names = model_preset_names();
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    const std::string name = e.path().stem().string();
    INFO(e.path() << " (a new preset file is listed in MM_PRESET_NAMES, src/models/CMakeLists.txt)");
    REQUIRE(std::find(names.begin(), names.end(), name) != names.end());
    CHECK(model_preset_yaml(name) == io::read_file(e.path().string()));
    const RunConfig run = load_run_config(e.path().string());
    CHECK(cfg::to_ordered_json(run.model).dump() == cfg::to_ordered_json(model_preset(name)).dump());
    CHECK(model_preset(name).name == name);
  }
  CHECK(files == names.size());
  CHECK(cfg::to_ordered_json(model_preset("debug")).dump() == cfg::to_ordered_json(ModelConfig{}).dump());
  CHECK(model_preset("1b-moe").llm.moe.num_experts == 64);  // inherit: 1b -> vit-h14-378
  CHECK(model_preset("1b-moe").vision.image_size == 378);
  REQUIRE_THROWS_WITH(model_preset("2b"), Contains("valid presets: debug, small"));
  CHECK(model_preset_yaml("2b").empty());
}

namespace {

// "631.4M" -> {631.4e6, half a unit of the last digit shown}.
std::pair<double, double> parse_count(const std::string& text) {
  static const std::regex re(R"(([0-9]+)(?:\.([0-9]+))?([KMB]))");
  std::smatch m;
  REQUIRE(std::regex_match(text, m, re));
  const double unit = m[3] == "K" ? 1e3 : m[3] == "M" ? 1e6 : 1e9;
  const double value = std::stod(m[1].str() + (m[2].matched ? "." + m[2].str() : ""));
  return {value * unit, 0.5 * std::pow(10.0, -static_cast<double>(m[2].length())) * unit};
}

// "1.04B (0.3B active)" -> {"1.04B", "0.3B"}; "**7.242B**" -> {"7.242B", ""}; "-" -> {"", ""}.
std::pair<std::string, std::string> split_active(std::string text) {
  text = std::regex_replace(text, std::regex(R"(\*|^\s+|\s+$)"), "");
  std::smatch m;
  if (std::regex_match(text, m, std::regex(R"((\S+) \((\S+) active\))"))) return {m[1], m[2]};
  return {text == "-" ? "" : text, ""};
}

void check_count(const std::string& what, const std::string& documented, int64_t count) {
  if (documented.empty()) return;
  const auto [value, tolerance] = parse_count(documented);
  INFO(what << ": documented " << documented << ", counted " << count);
  CHECK(std::abs(static_cast<double>(count) - value) <= tolerance * 1.0001);
}

}  // namespace

TEST_CASE("the preset table of docs/models.md holds the analytic parameter counts", "[presets][size]") {
  // | `name` | vision | connector | decoder | vision / connector / llm (active) | total (active) |
  std::istringstream doc(io::read_file(std::string(MM_SOURCE_DIR) + "/docs/models.md"));
  static const std::regex row(R"(^\| `([a-z0-9-]+)` \|.*\| ([^|]+) \| ([^|]+) \|$)");
  std::set<std::string> seen;
  for (std::string line; std::getline(doc, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    const std::string name = m[1];
    const auto names = model_preset_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;  // another table
    INFO(line);
    const ModelSize s = model_size(model_preset(name));
    std::vector<std::string> parts;
    std::stringstream cols(m[2].str());
    for (std::string p; std::getline(cols, p, '/');) parts.push_back(p);
    REQUIRE(parts.size() == 3);
    check_count(name + " vision", split_active(parts[0]).first, s.vision);
    check_count(name + " connector", split_active(parts[1]).first, s.connector);
    const auto [llm, llm_active] = split_active(parts[2]);
    check_count(name + " llm", llm, s.llm);
    check_count(name + " llm active", llm_active, s.llm_active);
    const auto [total, active] = split_active(m[3]);
    check_count(name + " total", total, s.total);
    check_count(name + " active", active, s.active);
    seen.insert(name);
  }
  CHECK(seen.size() == model_preset_names().size());
}

TEST_CASE("decoder presets land within 10% of their nominal size", "[presets][size]") {
  const std::vector<std::pair<std::string, double>> nominal = {{"1b", 1e9}, {"3b", 3e9}, {"7b", 7e9}, {"30b", 30e9}};
  for (const auto& [name, n] : nominal) {
    const auto s = model_size(model_preset(name));
    INFO(name << ": llm " << s.llm);
    CHECK(std::abs(static_cast<double>(s.llm) - n) <= 0.1 * n);
    CHECK(s.active == s.total);
  }
  // MoE: the active decoder is the dense one plus the routers and one more expert per MoE layer.
  for (const std::string base : {"1b", "3b"}) {
    const auto dense = model_preset(base);
    const auto moe = model_preset(base + "-moe");
    REQUIRE(moe.llm.moe.num_experts == 64);
    const auto sd = model_size(dense), sm = model_size(moe);
    const int64_t moe_layers = dense.llm.layers / 2, d = dense.llm.dim, f = dense.llm.ffn_hidden;
    CHECK(sm.llm_active - sd.llm == moe_layers * (64 * d + 3 * d * f));
    CHECK(sm.llm - sd.llm == moe_layers * (64 * d + 63 * 3 * d * f));
    CHECK(sm.vision == sd.vision);
  }
  // the encoders: ViT-H/14 ~632M, ViT-L/14 ~303M (CLIP's published sizes without the head/post-norm)
  CHECK(std::abs(model_size(model_preset("vit-h14-378")).vision - 632e6) < 0.02 * 632e6);
  CHECK(std::abs(model_size(model_preset("vit-l14-336")).vision - 303e6) < 0.02 * 303e6);
  // debug: a few million; small: the 20-40M CPU benchmark size
  const auto debug = model_size(model_preset("debug")), small = model_size(model_preset("small"));
  CHECK(debug.total > 1'000'000);
  CHECK(debug.total < 6'000'000);
  CHECK(small.total > 20'000'000);
  CHECK(small.total < 40'000'000);
  for (const auto& name : model_preset_names()) std::cout << model_summary_text(model_preset(name));
}

TEST_CASE("the model summary holds per-component counts and the image-token budget", "[presets]") {
  const auto cfg = model_preset("1b-moe");
  const auto j = model_summary_json(cfg);
  const auto s = model_size(cfg);
  CHECK(j["params"]["total"].get<int64_t>() == s.total);
  CHECK(j["params"]["active"].get<int64_t>() == s.active);
  CHECK(j["params"]["vision"].get<int64_t>() + j["params"]["connector"].get<int64_t>() +
            j["params"]["llm"].get<int64_t>() ==
        s.total);
  CHECK(s.active < s.total);
  CHECK(j["tokens_per_tile"].get<int64_t>() == 144);
  CHECK(j["image_tokens"]["static"].get<int64_t>() == 720);        // MM15_SPEC: static 720
  CHECK(j["image_tokens"]["dynamic_4_9"].get<int64_t>() == 1440);  // dynamic (4, 9): up to 1440
  CHECK(image_token_budget(cfg, 3) == 432);
}
