// The C++ pipeline against tiles made by the independent Python/numpy reference
// (scripts/golden/gen_image_golden.py -> tests/data/golden/image_split.safetensors).
#include <catch2/catch.hpp>

#include <string>

#include "core/safetensors.h"
#include "data_pipeline/image/image_pipeline.h"
#include "support/golden_file.h"

using namespace mm::data;

TEST_CASE("tiles match the Python reference (decode, grid, resize, pad, normalise)", "[image][golden]") {
  const auto golden = mm::test::load_golden("image_split").file;
  mm::ImageConfig cfg;
  cfg.tile_size = std::stoll(golden.metadata.at("tile"));
  cfg.nmin = std::stoll(golden.metadata.at("nmin"));
  cfg.nmax = std::stoll(golden.metadata.at("nmax"));
  int cases = 0;
  for (int n = 0; golden.tensors.count("png_" + std::to_string(n)); ++n, ++cases) {
    INFO("image " << n);
    const torch::Tensor png = golden.tensors.at("png_" + std::to_string(n));
    const std::string bytes(static_cast<const char*>(png.data_ptr()), size_t(png.numel()));
    const ProcessedImage img = process_image(bytes, cfg, 1);
    const torch::Tensor grid = golden.tensors.at("grid_" + std::to_string(n));
    CHECK(img.plan.rows == grid[0].item<int64_t>());
    CHECK(img.plan.cols == grid[1].item<int64_t>());
    const torch::Tensor want = golden.tensors.at("tiles_" + std::to_string(n));  // (N, 3, r, r)
    REQUIRE(img.tiles.sizes() == want.sizes());
    CHECK(torch::allclose(img.tiles, want, /*rtol=*/1e-5, /*atol=*/1e-5));
  }
  CHECK(cases == 3);
}
