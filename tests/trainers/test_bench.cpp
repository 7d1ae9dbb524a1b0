// mmtrain bench (trainers/bench): the tiny model runs warm-up + 2 timed steps and returns a
// well-formed result; the analytic FLOP formula against a case computed by hand; the synthetic
// batch layout; the python3-torch reference on the tiny decoder (skipped without python3-torch).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "models/mllm.h"
#include "trainers/bench/bench.h"
#include "trainers/bench/flops.h"

using namespace mm;

namespace {

// Decoder V=64 D=16 L=2 H=2 KV=1 F=32 (tied); ViT 16px / 8px patches, W=16, 1 block, MLP 32;
// C-Abstractor M=4, hidden 8, depth 1, se 0.25; B=2, T=32.
RunConfig tiny_config() {
  return load_run_config(
      "", {"model.name=tiny", "model.vision.image_size=16", "model.vision.patch_size=8", "model.vision.width=16",
           "model.vision.layers=1", "model.vision.heads=2", "model.vision.mlp_dim=32", "model.connector.num_tokens=4",
           "model.connector.hidden=8", "model.connector.depth=1", "model.llm.vocab_size=64", "model.llm.dim=16",
           "model.llm.layers=2", "model.llm.heads=2", "model.llm.kv_heads=1", "model.llm.ffn_hidden=32",
           "loader.seq_len=32", "loader.micro_batch=2", "train.threads=1"});
}

bool has_python_torch() {
  std::ifstream exe("/usr/bin/python3");
  return exe.good() && std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
}

}  // namespace

TEST_CASE("bench FLOPs match a hand-computed tiny case", "[bench]") {
  const RunConfig cfg = tiny_config();
  // Decoder matmul weights: per layer q 16x16 + o 16x16 + k, v 16x8 each = 768, SwiGLU 3x16x32 = 1536;
  // 2 layers + tied head 64x16 = 1024 -> 5632.
  CHECK(bench::decoder_matmul_params(cfg.model.llm) == 5632);
  // ViT per tile (2x2 = 4 patches): patch conv 2*(3*8*8*16)*4 = 24576; block 2*(4*16^2 + 2*16*32)*4 = 16384;
  // attention 4*4*4*16 = 1024.
  CHECK(bench::vit_forward_flops_per_tile(cfg.model.vision) == Approx(41984.0));
  // C-Abstractor per tile: RegStage 16->8 on 2x2 cells: (16*8 + 9*8 + 8*8 + 16*8 downsample) = 392 weights
  // -> 2*392*4 = 3136, SE 2x(8x4) weights once -> 128; RegStage 8->8 on 2x2: (64 + 72 + 64) -> 1600, SE 2x(8x2)
  // -> 64; readout (8*16 + 16*16) at 4 tokens -> 3072. Sum 8000.
  CHECK(bench::connector_forward_flops_per_tile(cfg.model) == Approx(8000.0));
  const auto f = bench::training_step_flops(cfg.model, 2, 32, /*tiles=*/2);
  CHECK(f.decoder_matmul == Approx(6.0 * 5632 * 64));
  CHECK(f.decoder_attention == Approx(12.0 * 2 * 64 * 32 * 16));
  CHECK(f.vision == Approx(3.0 * 41984 * 2));
  CHECK(f.connector == Approx(3.0 * 8000 * 2));
  CHECK(f.total() == Approx(3249024.0));
  CHECK(bench::training_step_flops(cfg.model, 2, 32, 0).vision == 0.0);

  // The weights the formula counts are the modules' matmul/conv weights (dim >= 2, no embeddings).
  MultimodalModel model(cfg.model);
  int64_t vit = 0, conn = 0;
  for (const auto& p : model->vision->named_parameters())
    if (p.value().dim() >= 2 && p.key().find("position_embedding") == std::string::npos) vit += p.value().numel();
  for (const auto& p : model->connector->named_parameters())
    if (p.value().dim() >= 2 && p.key() != "pos_emb") conn += p.value().numel();
  CHECK(vit == 3 * 8 * 8 * 16 + 4 * 16 * 16 + 2 * 16 * 32);
  CHECK(conn == 392 + 64 + 200 + 32 + 8 * 16 + 16 * 16);
}

TEST_CASE("bench synthetic batch is packed like the loader's", "[bench]") {
  const RunConfig cfg = tiny_config();
  const auto b = bench::synthetic_batch(cfg.model, 2, 32, /*images=*/3, /*docs=*/2, 7);
  REQUIRE(b.input_ids.sizes() == torch::IntArrayRef({2, 32}));
  REQUIRE(b.tiles.sizes() == torch::IntArrayRef({6, 3, 16, 16}));
  REQUIRE(b.image_slots.numel() == 6 * 4);
  CHECK(b.positions[0][0].item<int64_t>() == 0);
  CHECK(b.positions[0][16].item<int64_t>() == 0);  // second document restarts
  CHECK(b.doc_ids[1][31].item<int64_t>() == 1);
  // Row 0: images at tokens 1..4 and 5..8 (document 0) and 17..20 (document 1); labels -100 there.
  CHECK(b.image_slots[0].item<int64_t>() == 1);
  CHECK(b.image_slots[8].item<int64_t>() == 17);
  CHECK(b.image_slots[12].item<int64_t>() == 32 + 1);
  CHECK(b.labels.eq(-100).sum().item<int64_t>() == 24);
  CHECK_THROWS_WITH(bench::synthetic_batch(cfg.model, 2, 32, 8, 2, 0), Catch::Contains("do not fit"));
}

TEST_CASE("bench runs 2 steps of the tiny model and returns a well-formed result", "[bench]") {
  const RunConfig cfg = tiny_config();
  bench::BenchOptions opt;
  opt.steps = 2;
  opt.warmup = 1;
  opt.gemm_size = 128;
  const auto r = bench::run_bench(cfg, opt);
  CHECK(r.steps == 2);
  CHECK(r.batch == 2);
  CHECK(r.seq_len == 32);
  CHECK(r.threads == 1);
  CHECK(r.tiles_per_step == 2.0);
  CHECK(r.tokens_per_s > 0);
  CHECK(r.images_per_s > 0);
  CHECK(r.gemm_flop_per_s > 0);
  CHECK(r.mfu > 0);
  CHECK(r.mfu_paired > 0);  // the median of the per-step ratios lies within their range
  CHECK(r.mfu_paired_min <= r.mfu_paired);
  CHECK(r.mfu_paired <= r.mfu_paired_max);
  CHECK(r.peak_rss_bytes > 0);
  CHECK(r.time.communication == 0.0);
  const double parts = r.time.data_wait + r.time.forward + r.time.backward + r.time.optimizer + r.time.communication;
  CHECK(parts == Approx(r.time.total).epsilon(0.01));
  CHECK(r.flops.total() == Approx(3249024.0));
  CHECK(r.model_flop_per_s == Approx(r.flops.total() / r.time.total));
  CHECK(std::isfinite(r.loss_first));
  CHECK(std::isfinite(r.loss_last));

  const auto j = bench::to_json(r);
  for (const char* key : {"tokens_per_s", "images_per_s", "model_flop_per_s", "gemm_flop_per_s", "mfu", "mfu_paired",
                          "step_s", "flops_per_step", "peak_rss_bytes"})
    CHECK(j.contains(key));
  CHECK(j["step_s"]["communication"].get<double>() == 0.0);
  CHECK(nlohmann::json::parse(j.dump())["mode"] == "multimodal");
  CHECK(j["gemm_dtype"] == "fp32");                // the peak in the steps' precision
  CHECK(j["cuda_max_allocated_bytes"].is_null());  // measured on CUDA only
  CHECK(bench::to_text(r).find("MFU") != std::string::npos);

  opt.decoder_only = true;
  const auto d = bench::run_bench(cfg, opt);
  CHECK(d.decoder_only);
  CHECK(d.tiles_per_step == 0.0);
  CHECK(d.flops.vision == 0.0);
  CHECK(d.flops.total() == Approx(6.0 * 5632 * 64 + 12.0 * 2 * 64 * 32 * 16));
  CHECK(d.tokens_per_s > 0);

  // A bf16 run is measured against a bf16 GEMM, not an fp32 one.
  RunConfig bf16 = cfg;
  bf16.train.precision = "bf16";
  opt.decoder_only = false;
  opt.steps = 1;
  const auto b = bench::run_bench(bf16, opt);
  CHECK(b.precision == "bf16");
  CHECK(b.gemm_dtype == "bf16");
  CHECK(b.gemm_flop_per_s > 0);
  CHECK(bench::to_text(b).find("GEMM peak (bf16)") != std::string::npos);
}

TEST_CASE("bench --real-data without data sources fails with one line", "[bench]") {
  bench::BenchOptions opt;
  opt.real_data = true;
  CHECK_THROWS_WITH(bench::run_bench(tiny_config(), opt), Catch::Contains("data.sources"));
}

TEST_CASE("bench python reference runs the tiny decoder step", "[bench][python]") {
  if (!has_python_torch()) {
    WARN("skipped: /usr/bin/python3 has no torch (apt install python3-torch)");
    return;
  }
  const RunConfig cfg = tiny_config();
  bench::BenchOptions opt;
  opt.steps = 1;
  opt.warmup = 1;
  const auto j = bench::run_python_ref(bench::default_python_ref_script(), cfg, opt, 2, 32, 1);
  CHECK(j.at("tokens_per_s").get<double>() > 0);
  CHECK(j.at("threads").get<int>() == 1);
  CHECK(std::isfinite(j.at("loss_first").get<double>()));
}
