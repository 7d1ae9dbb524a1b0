// Loader throughput with 1 worker on generated WebDataset caption shards (JPEG, dynamic split,
// index indicators, packing), per tile size: 64 px (debug preset: M = 16, T = 512), 112 px (small
// preset: M = 16, T = 1024) and 336 px (MM1.5: M = 144, T = 4096). Counters: samples/s, tokens/s
// (real, non-padding tokens), images/s, and model_tokens/s of the preset named by the row with the
// ratio loader/model (> 1: one worker keeps up). A model step consumes about
// GEMM FLOP/s / (6 x params) tokens/s; the GEMM is a 1024^3 torch::matmul measured here, best of 5,
// with torch's default thread count.
//
//   bench_loader [--benchmark_filter=Loader/64]
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include "data_pipeline/synth/tar_writer.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/timer.h"
#include "data_pipeline/loader/loader.h"
#include "models/model_size.h"
#include "models/presets.h"
#include "tokenizer/train_tokenizer.h"

namespace {

namespace fs = std::filesystem;

const std::string& scratch() {
  static const std::string dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "mm_bench_loader_XXXXXX").string();
    std::string d = ::mkdtemp(tmpl.data());
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch(), ec);
    });
    return d;
  }();
  return dir;
}

const char* kWords[] = {"red", "green", "blue", "square", "circle", "left",  "right", "top",   "bottom", "a",
                        "the", "in",    "of",   "with",   "small",  "large", "photo", "chart", "text",   "sign"};

std::string caption(std::mt19937& rng) {
  std::string s;
  const int n = 12 + static_cast<int>(rng() % 30);
  for (int i = 0; i < n; ++i) s += std::string(i ? " " : "") + kWords[rng() % 20];
  return s + ".";
}

// A shard of `n` JPEG + caption pairs of about h x w pixels (sizes vary by up to +-40%).
std::string write_shard(int64_t h, int64_t w, int n) {
  const std::string path = scratch() + "/caps_" + std::to_string(h) + "x" + std::to_string(w) + ".tar";
  std::mt19937 rng(h * 7919 + w);
  mm::data::synth::TarWriter tar(path);
  for (int i = 0; i < n; ++i) {
    const int ih = static_cast<int>(h * (0.6 + 0.8 * (rng() % 1000) / 1000.0));
    const int iw = static_cast<int>(w * (0.6 + 0.8 * (rng() % 1000) / 1000.0));
    cv::Mat m(ih, iw, CV_8UC3);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::GaussianBlur(m, m, cv::Size(0, 0), 3.0);  // photo-like, compresses like one
    cv::rectangle(m, cv::Point(iw / 5, ih / 5), cv::Point(iw / 2, ih / 2), cv::Scalar(20, 200, 40), -1);
    std::vector<uchar> buf;
    cv::imencode(".jpg", m, buf, {cv::IMWRITE_JPEG_QUALITY, 90});
    const std::string key = "s" + std::to_string(i);
    tar.add(key + ".jpg", std::string(buf.begin(), buf.end()));
    tar.add(key + ".txt", caption(rng));
  }
  tar.close();
  return path;
}

const mm::tok::Tokenizer& tokenizer() {
  static const mm::tok::Tokenizer tok = [] {
    const std::string corpus = scratch() + "/corpus.txt";
    std::ofstream f(corpus);
    std::mt19937 rng(1);
    for (int i = 0; i < 400; ++i) f << caption(rng) << "\n";
    f.close();
    const std::string model = mm::tok::train_tokenizer({corpus}, scratch() + "/tok", 400, mm::TokenizerConfig{});
    return mm::tok::Tokenizer::load(mm::TokenizerConfig{}, model);
  }();
  return tok;
}

double gemm_flops() {  // best of 5, 1024^3 fp32
  static const double peak = [] {
    const int64_t n = 1024;
    auto a = torch::randn({n, n}), b = torch::randn({n, n});
    torch::matmul(a, b);
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
      const mm::Stopwatch watch;
      auto c = torch::matmul(a, b);
      best = std::min(best, watch.seconds());
    }
    return 2.0 * n * n * n / best;
  }();
  return peak;
}

double preset_params(const std::string& name) {  // analytic, equal to the modules' numel
  return static_cast<double>(mm::model_size(mm::model_preset(name)).total);
}

struct Setup {
  const char* preset;  // model preset whose consumption the row is compared with
  int64_t tile, tokens_per_tile, seq_len;
  int64_t img_h, img_w;  // typical generated image size
};

void BM_Loader(benchmark::State& state, Setup s) {
  const std::string shard = write_shard(s.img_h, s.img_w, 64);
  mm::SourceConfig src;
  src.name = "caps";
  src.format = "wds";
  src.path = shard;
  mm::ImageConfig image;
  image.tile_size = s.tile;
  mm::LoaderConfig cfg;
  cfg.seq_len = s.seq_len;
  cfg.micro_batch = 8;
  cfg.workers = 1;
  cfg.prefetch = 4;
  mm::data::Quarantine q;
  auto loader = mm::data::make_loader({src}, mm::MixtureConfig{}, image, tokenizer(), s.tokens_per_tile, cfg, &q);
  loader->next();  // warm-up: threads started, first batch built
  int64_t samples = 0, tokens = 0, images = 0;
  const mm::Stopwatch watch;
  for (auto _ : state) {
    const mm::data::Batch b = loader->next();
    samples += static_cast<int64_t>(b.docs.size());
    tokens += b.real_tokens;
    images += b.images;
  }
  const double secs = watch.seconds();
  const double model_tps = gemm_flops() / (6.0 * preset_params(s.preset));
  state.counters["samples/s"] = samples / secs;
  state.counters["tokens/s"] = tokens / secs;
  state.counters["images/s"] = images / secs;
  state.counters["tok/sample"] = static_cast<double>(tokens) / std::max<int64_t>(samples, 1);
  state.counters["gemm_GFLOP/s"] = gemm_flops() / 1e9;
  state.counters["params_M"] = preset_params(s.preset) / 1e6;
  state.counters["model_tok/s"] = model_tps;
  state.counters["loader/model"] = tokens / secs / model_tps;
  state.counters["quarantined"] = static_cast<double>(q.size());
}

}  // namespace

BENCHMARK_CAPTURE(BM_Loader, 64px_debug, Setup{"debug", 64, 16, 512, 192, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK_CAPTURE(BM_Loader, 112px_small, Setup{"small", 112, 16, 1024, 336, 448})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK_CAPTURE(BM_Loader, 336px_small, Setup{"small", 336, 144, 4096, 756, 1008})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(3.0);

BENCHMARK_MAIN();
