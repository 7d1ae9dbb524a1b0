// Model presets: the YAML files equal the C++ registry, and the paper-sized presets land on their
// nominal sizes (analytic counts; the big models are never instantiated).
#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "models/registry.h"

using namespace mm;
using Catch::Matchers::Contains;

TEST_CASE("every configs/models YAML equals the registry preset of the same name", "[presets]") {
  const std::filesystem::path dir = std::filesystem::path(MM_SOURCE_DIR) / "configs" / "models";
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    const std::string name = e.path().stem().string();
    INFO(e.path());
    const RunConfig run = load_run_config(e.path().string());
    CHECK(cfg::to_ordered_json(run.model).dump() == cfg::to_ordered_json(model_preset(name)).dump());
  }
  CHECK(files == model_preset_names().size());
  CHECK(cfg::to_ordered_json(model_preset("debug")).dump() == cfg::to_ordered_json(ModelConfig{}).dump());
  REQUIRE_THROWS_WITH(model_preset("2b"), Contains("valid presets: debug, small"));
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
