// Images per second on one core for decode + dynamic split (4, 9, tile 672) + CLIP normalise of a
// generated 2016x2016 JPEG through process_image (the loader's path: the tiles land in a recycled
// buffer, data_pipeline/image/tile_buffers.h), then the Python/numpy equivalent (scripts/reference/image_split_ref.py)
// on the same bytes in the same run, and the ratio. MM_PYTHON overrides the interpreter.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_pipeline.h"
#include "data_pipeline/image/tile_buffers.h"
#include "data_pipeline/image/tiles.h"

namespace {

// Deterministic 2016x2016 content: smooth gradients, shapes and text (so JPEG has real work).
const std::string& bench_jpeg() {
  static const std::string bytes = [] {
    const int n = 2016;
    cv::Mat img(n, n, CV_8UC3);
    for (int y = 0; y < n; ++y) {
      auto* row = img.ptr<cv::Vec3b>(y);
      for (int x = 0; x < n; ++x)
        row[x] = cv::Vec3b(uint8_t(x * 255 / n), uint8_t(y * 255 / n), uint8_t((x + y) % 256));
    }
    cv::RNG rng(1234);
    for (int i = 0; i < 60; ++i) {
      const cv::Point c(rng.uniform(0, n), rng.uniform(0, n));
      const cv::Scalar col(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256));
      cv::circle(img, c, rng.uniform(20, 200), col, cv::FILLED, cv::LINE_AA);
      cv::putText(img, fmt::format("receipt {} total {}.{:02d}", i, rng.uniform(1, 999), rng.uniform(0, 99)),
                  cv::Point(rng.uniform(0, n - 400), rng.uniform(30, n)), cv::FONT_HERSHEY_SIMPLEX, 1.2,
                  cv::Scalar(0, 0, 0), 2, cv::LINE_AA);
    }
    std::vector<uint8_t> buf;
    cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
    return std::string(buf.begin(), buf.end());
  }();
  return bytes;
}

mm::ImageConfig bench_cfg() {
  mm::ImageConfig c;
  c.mode = "dynamic";
  c.nmin = 4;
  c.nmax = 9;
  c.tile_size = 672;
  return c;
}

void BM_image_pipeline(benchmark::State& state) {
  const std::string& jpg = bench_jpeg();
  const mm::ImageConfig cfg = bench_cfg();
  for (auto _ : state) {
    auto img = mm::data::process_image(std::string_view(jpg), cfg, 1);
    benchmark::DoNotOptimize(img.tiles.data_ptr<float>());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_image_pipeline)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// The same path with tile-buffer recycling off (set_tile_buffer_cache_limit(0)): every image's
// 54 MB (10, 3, 672, 672) tensor is a fresh allocation whose pages the kernel faults in and zeroes.
void BM_image_pipeline_no_recycling(benchmark::State& state) {
  const std::string& jpg = bench_jpeg();
  const mm::ImageConfig cfg = bench_cfg();
  const int64_t limit = mm::data::set_tile_buffer_cache_limit(0);
  for (auto _ : state) {
    auto img = mm::data::process_image(std::string_view(jpg), cfg, 1);
    benchmark::DoNotOptimize(img.tiles.data_ptr<float>());
  }
  mm::data::set_tile_buffer_cache_limit(limit);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_image_pipeline_no_recycling)->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_image_decode(benchmark::State& state) {
  const std::string& jpg = bench_jpeg();
  const mm::ImageConfig cfg = bench_cfg();
  for (auto _ : state) benchmark::DoNotOptimize(mm::data::decode_image(jpg, cfg).data);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_image_decode)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// The decode before issue 28, side by side with BM_image_decode on the same bytes: cv::imdecode
// (IMREAD_COLOR: OpenCV's own libjpeg settings, BGR) + BGR -> RGB.
void BM_image_decode_cv_imdecode(benchmark::State& state) {
  const std::string& jpg = bench_jpeg();
  const cv::Mat buf(1, static_cast<int>(jpg.size()), CV_8U, const_cast<char*>(jpg.data()));
  for (auto _ : state) {
    cv::Mat rgb;
    cv::cvtColor(cv::imdecode(buf, cv::IMREAD_COLOR), rgb, cv::COLOR_BGR2RGB);
    benchmark::DoNotOptimize(rgb.data);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_image_decode_cv_imdecode)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_image_split_normalize(benchmark::State& state) {
  const mm::ImageConfig cfg = bench_cfg();
  const cv::Mat rgb = mm::data::decode_image(bench_jpeg(), cfg);
  for (auto _ : state) {
    const auto plan = mm::data::plan_split(rgb.rows, rgb.cols, cfg, 1);
    auto t = mm::data::tiles_tensor(rgb, plan, cfg);
    benchmark::DoNotOptimize(t.data_ptr<float>());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_image_split_normalize)->Unit(benchmark::kMillisecond)->MinTime(1.0);

// Keeps the console output and remembers images/s of the full pipeline.
class Reporter : public benchmark::ConsoleReporter {
 public:
  double pipeline_ips = 0, fresh_ips = 0;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      const std::string name = r.benchmark_name();
      if (name.rfind("BM_image_pipeline/", 0) == 0) pipeline_ips = it->second;
      if (name.rfind("BM_image_pipeline_no_recycling", 0) == 0) fresh_ips = it->second;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

// Runs the Python reference on the same JPEG; returns its images/s (0 when it failed).
double run_python_reference(const std::string& jpg_path) {
  const char* py = std::getenv("MM_PYTHON");
  const std::string cmd = fmt::format("{} {}/scripts/reference/image_split_ref.py --image {} --seconds 5 2>&1",
                                      py ? py : "/usr/bin/python3", MM_SOURCE_DIR, jpg_path);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  double ips = 0;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::fputs(line, stdout);
    double v = 0;
    if (std::sscanf(line, "images_per_s=%lf", &v) == 1) ips = v;
  }
  pclose(p);
  return ips;
}

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  torch::set_num_threads(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const std::string jpg_path = (std::filesystem::temp_directory_path() / "mm_bench_image_2016.jpg").string();
  {
    std::ofstream f(jpg_path, std::ios::binary);
    f << bench_jpeg();
  }
  std::printf("input: generated 2016x2016 JPEG, %zu bytes (%s); one core (cv::setNumThreads(1))\n", bench_jpeg().size(),
              jpg_path.c_str());
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double py = run_python_reference(jpg_path);
  const double cpp = reporter.pipeline_ips, fresh = reporter.fresh_ips;
  std::printf(
      "images/s per CPU second, one core:\n  C++ (loader path, recycled tile buffers) %.2f\n"
      "  C++ (recycling off, fresh allocation)    %.2f\n  Python reference                         %.2f\n",
      cpp, fresh, py);
  if (cpp > 0 && py > 0) {
    std::printf("ratio C++/Python: %.2fx (target >= 3x); %.2fx with recycling off\n", cpp / py, fresh / py);
  }
  benchmark::Shutdown();
  return 0;
}
