// Tile cutting and CLIP normalisation of a decoded image; the torch tensor of process_image.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <vector>

#include "data_pipeline/image/image_error.h"
#include "data_pipeline/image/image_pipeline.h"
#include "data_pipeline/image/tile_buffers.h"
#include "data_pipeline/image/tiles.h"

using namespace mm::data;

namespace {

mm::ImageConfig small_cfg() {
  mm::ImageConfig c;
  c.tile_size = 8;
  return c;
}

float clip_norm(int v, int c) {
  const double mean[3] = {0.48145466, 0.4578275, 0.40821073};
  const double std[3] = {0.26862954, 0.26130258, 0.27577711};
  return float((v / 255.0 - mean[c]) / std[c]);
}

cv::Mat random_rgb(int h, int w, int seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

}  // namespace

TEST_CASE("normalised tiles are the canvas cut row-major, overview last", "[image][tiles]") {
  // 16 x 24 with r = 8: grid 2x3 has s = 1 and no padding (case 1, least padding), so tile (i, j)
  // is exactly image[8i:8i+8, 8j:8j+8].
  const mm::ImageConfig cfg = small_cfg();
  const cv::Mat rgb = random_rgb(16, 24, 1);
  const SplitPlan plan = plan_split(16, 24, cfg);
  REQUIRE(plan.rows == 2);
  REQUIRE(plan.cols == 3);
  REQUIRE(plan.scale == 1.0);
  std::vector<float> out(size_t(plan.num_images() * 3 * 64));
  normalize_tiles(rgb, plan, cfg, out.data());
  for (int t = 0; t < 6; ++t) {
    const int i = t / 3, j = t % 3;
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
          const int v = rgb.at<cv::Vec3b>(8 * i + y, 8 * j + x)[c];
          REQUIRE(out[size_t(((t * 3 + c) * 8 + y) * 8 + x)] == Approx(clip_norm(v, c)).margin(1e-6));
        }
      }
    }
  }
  // Overview: the image resized (area filter, aspect not kept) to 8 x 8.
  cv::Mat ov;
  cv::resize(rgb, ov, cv::Size(8, 8), 0, 0, cv::INTER_AREA);
  for (int c = 0; c < 3; ++c) {
    const int v = ov.at<cv::Vec3b>(5, 2)[c];
    CHECK(out[size_t(((6 * 3 + c) * 8 + 5) * 8 + 2)] == Approx(clip_norm(v, c)).margin(1e-6));
  }
}

TEST_CASE("padding is exactly zero (the mean colour) right and bottom", "[image][tiles]") {
  // 8 x 20 with r = 8, nmin = nmax = 2: 1x2 s = min(1, 0.8) = 0.8 < 1 and 2x1 s = 0.4 -> 1x2
  // (case 2); image scaled to 6 x 16 (rounded from 6.4), bottom 2 rows of both tiles are padding.
  mm::ImageConfig cfg = small_cfg();
  cfg.nmin = cfg.nmax = 2;
  cfg.overview = false;
  const cv::Mat rgb(8, 20, CV_8UC3, cv::Scalar(255, 255, 255));
  const SplitPlan plan = plan_split(8, 20, cfg);
  REQUIRE(plan.rows == 1);
  REQUIRE(plan.cols == 2);
  REQUIRE(plan.scaled_h == 6);
  REQUIRE(plan.scaled_w == 16);
  std::vector<float> out(size_t(2 * 3 * 64), 42.0f);
  normalize_tiles(rgb, plan, cfg, out.data());
  for (int t = 0; t < 2; ++t) {
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 8; ++y) {
        const float v = out[size_t(((t * 3 + c) * 8 + y) * 8 + 3)];
        if (y < 6) {
          REQUIRE(v == Approx(clip_norm(255, c)));
        } else {
          REQUIRE(v == 0.0f);
        }
      }
    }
  }
  // The uint8 rendering pads with the mean colour rounded: (123, 117, 104).
  const auto tiles = render_tiles(rgb, plan, cfg);
  REQUIRE(tiles.size() == 2);
  CHECK(tiles[1].at<cv::Vec3b>(7, 7) == cv::Vec3b(123, 117, 104));
  CHECK(tiles[1].at<cv::Vec3b>(0, 0) == cv::Vec3b(255, 255, 255));
}

TEST_CASE("resize filter: area when shrinking, bicubic when enlarging", "[image][tiles]") {
  const mm::ImageConfig cfg;
  CHECK(resize_filter(100, 100, 50, 80, cfg) == cv::INTER_AREA);
  CHECK(resize_filter(100, 100, 100, 100, cfg) == cv::INTER_AREA);
  CHECK(resize_filter(100, 100, 150, 80, cfg) == cv::INTER_CUBIC);
  mm::ImageConfig lin;
  lin.upscale = "linear";
  CHECK(resize_filter(10, 10, 20, 20, lin) == cv::INTER_LINEAR);
}

TEST_CASE("process_image returns the (N,3,r,r) tensor and plan", "[image][pipeline]") {
  mm::ImageConfig cfg = small_cfg();
  const cv::Mat rgb = random_rgb(20, 30, 2);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(".png", bgr, buf));
  const std::string bytes(buf.begin(), buf.end());

  ProcessedImage img = process_image(bytes, cfg, 1);
  CHECK(img.plan.num_images() == img.tiles.size(0));
  CHECK(img.tiles.sizes() == torch::IntArrayRef({img.plan.num_images(), 3, 8, 8}));
  CHECK(img.tiles.dtype() == torch::kFloat32);
  // Pixel (0, 0) of tile 0 after the same resize the plan asks for.
  const cv::Mat scaled = resize_rgb(rgb, img.plan.scaled_h, img.plan.scaled_w, cfg);
  CHECK(img.tiles[0][1][0][0].item<float>() == Approx(clip_norm(scaled.at<cv::Vec3b>(0, 0)[1], 1)).margin(1e-6));

  img = process_image(bytes, cfg, 3);  // an image of a 3-image sample: overview only
  CHECK(img.tiles.size(0) == 1);
  CHECK(img.plan.num_tiles() == 0);

  ImageRef ref;
  ref.path = "/nonexistent/dir/cat.jpg";
  CHECK_THROWS_WITH(process_image(ref, cfg, 1), Catch::Contains("cat.jpg"));
  ref = ImageRef{};
  ref.inline_bytes = bytes.substr(0, bytes.size() - 30);
  CHECK_THROWS_AS(process_image(ref, cfg, 1), ImageError);
}

TEST_CASE("tile buffers are recycled: a freed tile tensor's memory serves the next one", "[image][pipeline]") {
  using mm::data::pooled_float_tensor;
  using mm::data::tile_buffer_stats;
  const int64_t old_limit = mm::data::set_tile_buffer_cache_limit(int64_t(64) << 20);
  const auto before = tile_buffer_stats();
  void* first = nullptr;
  {
    torch::Tensor t = pooled_float_tensor({10, 3, 32, 32});
    CHECK(t.sizes() == torch::IntArrayRef({10, 3, 32, 32}));
    CHECK(t.dtype() == torch::kFloat32);
    CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64 == 0);
    t.fill_(1.5f);
    CHECK(t.sum().item<float>() == Approx(1.5 * 10 * 3 * 32 * 32));
    first = t.data_ptr();
  }
  CHECK(tile_buffer_stats().cached_bytes >= before.cached_bytes + 10 * 3 * 32 * 32 * 4);
  {
    torch::Tensor u = pooled_float_tensor({9, 3, 32, 32});  // smaller: fits the freed buffer
    CHECK(u.data_ptr() == first);
    CHECK(tile_buffer_stats().reused == before.reused + 1);
    torch::Tensor v = pooled_float_tensor({40, 3, 32, 32});  // larger than anything cached: new
    CHECK(v.data_ptr() != first);
    torch::Tensor w = pooled_float_tensor({1, 3, 8, 8});  // tiny: never takes a buffer > 2x its size
    CHECK(w.data_ptr() != first);
  }
  // A limit of 0 empties the free list and turns recycling off.
  mm::data::set_tile_buffer_cache_limit(0);
  CHECK(tile_buffer_stats().cached_bytes == 0);
  { torch::Tensor t = pooled_float_tensor({10, 3, 32, 32}); }
  CHECK(tile_buffer_stats().cached_bytes == 0);
  mm::data::set_tile_buffer_cache_limit(old_limit);
}
