// The memory planner (trainers/plan): the components of a tiny config computed by hand, the shard
// modes, the peak, the smallest world size, byte sizes. The planner against measured peaks:
// test_memory_plan_measured.cpp.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/config/run_config.h"
#include "models/model_size.h"
#include "trainers/plan/activation_bytes.h"
#include "trainers/plan/memory_plan.h"

using namespace mm;
using train::ShardMode;

namespace {

// Decoder V=64 D=16 L=2 H=2 KV=1 F=32 (tied); ViT 16 px / 8 px patches, W=16, 1 block; B=2, T=32.
std::vector<std::string> tiny_sets() {
  return {"model.vision.image_size=16",
          "model.vision.patch_size=8",
          "model.vision.width=16",
          "model.vision.layers=1",
          "model.vision.heads=2",
          "model.vision.mlp_dim=32",
          "model.connector.num_tokens=4",
          "model.connector.hidden=8",
          "model.connector.depth=1",
          "model.llm.vocab_size=64",
          "model.llm.dim=16",
          "model.llm.layers=2",
          "model.llm.heads=2",
          "model.llm.kv_heads=1",
          "model.llm.ffn_hidden=32",
          "loader.seq_len=32",
          "loader.micro_batch=2",
          "image.tile_size=16",
          "train.device=cpu"};
}

RunConfig tiny(std::vector<std::string> extra = {}) {
  auto sets = tiny_sets();
  sets.insert(sets.end(), extra.begin(), extra.end());
  return load_run_config("", sets);
}

const train::ModePlan& mode(const train::MemoryPlan& p, ShardMode m) {
  for (const auto& mp : p.modes)
    if (mp.mode == m) return mp;
  FAIL("mode missing");
  return p.modes.front();
}

}  // namespace

TEST_CASE("memory plan: parameters, gradients and AdamW state of a tiny config by hand", "[plan]") {
  const RunConfig cfg = tiny();
  const train::MemoryPlan p = train::plan_memory(cfg, {});
  const int64_t params = model_size(cfg.model).total;
  CHECK(p.params == params);
  CHECK(p.trainable == params);
  CHECK(p.device == "cpu");
  const auto& none = mode(p, ShardMode::none).plain;
  CHECK(none.params == 4 * params);
  CHECK(none.grads == 4 * params);
  CHECK(none.optimizer == 8 * params);
  CHECK(none.compute_copies == 0);  // fp32
  CHECK(none.gathered == 0);
  CHECK(none.overhead == 179 * (int64_t{1} << 20));  // measured (memory_plan.cpp)
  CHECK(none.total() == none.params + none.grads + none.optimizer + none.activations + none.overhead);
  // The peak: at least everything but the gradients plus the forward's saved bytes, at most the sum.
  int64_t saved = 0;
  for (const auto& st : p.act_plain.steps) saved += st.saved;
  CHECK(none.peak >= none.params + none.optimizer + none.overhead + saved);
  CHECK(none.peak <= none.total());
  CHECK(saved == p.act_plain.total() - p.act_plain.backward);
  // Recomputation keeps less than the plain forward.
  CHECK(p.act_recompute.decoder < p.act_plain.decoder);
  CHECK(mode(p, ShardMode::none).recompute.activations == p.act_recompute.total());
}

TEST_CASE("memory plan: one decoder layer's saved tensors on the cpu path by hand", "[plan]") {
  // B=2, T=32 (one 128-query chunk: probabilities 2 x 2 heads x 32 x 32), D=16, hd=8, q 16, k/v 8, F=32.
  train::plan_detail::ActivationShape s;
  s.batch = 2;
  s.seq_len = 32;
  s.c = 4;
  const RunConfig cfg = tiny();
  const int64_t n = 64;
  // 1/rms + normed (17), qkv (32) + roped k (8) + scaled q (16), attention out (16), h (16),
  // 1/rms + normed h (17), gate_up + sigmoid + SwiGLU out (128), layer output (16).
  const int64_t per_token = 17 + 32 + 8 + 16 + 16 + 16 + 17 + 128 + 16;
  CHECK(train::plan_detail::decoder_layer_bytes(cfg.model.llm, 0, s) == 4 * (n * per_token + 2 * 2 * 32 * 32));
  // Stacked weights: q/k/v (32 x 16) and gate/up (64 x 16).
  CHECK(train::plan_detail::stacked_weight_elems(cfg.model.llm, 0) == 32 * 16 + 64 * 16);
}

TEST_CASE("memory plan: frozen components, Adafactor, bf16 copies on the cuda path", "[plan]") {
  const RunConfig frozen = tiny({"train.params=[{select: vision, trainable: false}]"});
  const train::MemoryPlan p = train::plan_memory(frozen, {});
  const ModelSize size = model_size(frozen.model);
  CHECK(p.trainable == size.total - size.vision);
  CHECK(p.trainable_exact);
  CHECK(mode(p, ShardMode::none).plain.grads == 4 * (size.total - size.vision));
  CHECK(mode(p, ShardMode::none).plain.params == 4 * size.total);
  // A rule on part of a component: counted trainable, and said so.
  CHECK_FALSE(train::plan_memory(tiny({"train.params=[{select: norms, trainable: false}]"}), {}).trainable_exact);
  // Adafactor without a first moment keeps far less than AdamW's 8 bytes per parameter.
  const auto ada = train::plan_memory(tiny({"optimizer.name=adafactor"}), {});
  CHECK(mode(ada, ShardMode::none).plain.optimizer < 4 * size.total);
  CHECK(mode(ada, ShardMode::none).plain.optimizer > 0);
  // bf16 counts only on the cuda path (autocast is CUDA's); it halves the GEMMs' saved outputs.
  const RunConfig bf = tiny({"train.precision=bf16", "train.device=cuda"});
  const auto pb = train::plan_memory(bf, {});
  const auto pf = train::plan_memory(tiny({"train.device=cuda"}), {});
  CHECK(pb.precision == "bf16");
  CHECK(mode(pb, ShardMode::none).plain.compute_copies > 0);
  CHECK(pb.act_plain.decoder < pf.act_plain.decoder);
  CHECK(mode(pb, ShardMode::none).plain.overhead > mode(p, ShardMode::none).plain.overhead);
}

TEST_CASE("memory plan: shard modes divide what they shard by the world size", "[plan]") {
  const RunConfig cfg = tiny();
  train::PlanOptions one, four;
  four.world = 4;
  const auto a = train::plan_memory(cfg, one);
  const auto b = train::plan_memory(cfg, four);
  const auto& full = mode(a, ShardMode::none).plain;
  auto ceil4 = [](int64_t x) { return (x + 3) / 4; };
  // More than one rank: the Reducer's buckets hold a copy of every gradient (none).
  CHECK(full.buckets == 0);
  CHECK(mode(b, ShardMode::none).plain.buckets == 4 * b.trainable);
  CHECK(mode(b, ShardMode::none).plain.total() == full.total() + 4 * b.trainable);
  // The sharded modes' two buckets of dist.bucket_cap_mb (25 MiB), at most all the gradients each.
  const int64_t two_buckets = 2 * std::min(25 * (int64_t{1} << 20), 4 * b.trainable);
  CHECK(mode(b, ShardMode::optimizer).plain.buckets == two_buckets);
  CHECK(mode(b, ShardMode::gradients).plain.buckets == two_buckets);
  const auto& z1 = mode(b, ShardMode::optimizer).plain;
  CHECK(z1.optimizer == ceil4(full.optimizer));
  CHECK(z1.grads == full.grads);
  const auto& z2 = mode(b, ShardMode::gradients).plain;
  CHECK(z2.grads == ceil4(full.grads));
  CHECK(z2.params == full.params);
  const auto& z3 = mode(b, ShardMode::parameters).plain;
  CHECK(z3.params == ceil4(full.params));
  CHECK(z3.gathered == 8 * b.largest_layer);  // fp32 weights + their gradient
  CHECK(z3.buckets == 8 * b.largest_layer);   // the flat buffers of one layer's gather and reduction
  CHECK(z3.activations == full.activations);
  // One rank: nothing is gathered.
  CHECK(mode(a, ShardMode::parameters).plain.gathered == 0);
}

TEST_CASE("memory plan: the smallest world size that fits", "[plan]") {
  const RunConfig cfg = tiny();
  const auto p = train::plan_memory(cfg, {});
  const int64_t need = mode(p, ShardMode::none).plain.peak;
  CHECK(train::smallest_world(cfg, {}, ShardMode::none, false, need) == 1);
  CHECK(train::smallest_world(cfg, {}, ShardMode::none, false, need - 1) == 0);  // more ranks do not help
  // Budget between the world-1 total and the optimizer-sharded floor: the first N that fits, N-1 not.
  const auto& full = mode(p, ShardMode::none).plain;
  const int64_t budget = full.peak - full.optimizer / 4;  // sharding saves 8T (1 - 1/N)
  const int64_t n = train::smallest_world(cfg, {}, ShardMode::optimizer, false, budget);
  REQUIRE(n >= 2);
  train::PlanOptions at;
  at.world = n;
  CHECK(mode(train::plan_memory(cfg, at), ShardMode::optimizer).plain.peak <= budget);
  at.world = n - 1;
  CHECK(mode(train::plan_memory(cfg, at), ShardMode::optimizer).plain.peak > budget);
  // Each rank keeps its 1/N of the optimizer state: at the world-1 peak minus all of it no world fits.
  CHECK(train::smallest_world(cfg, {}, ShardMode::optimizer, false, full.peak - full.optimizer) == 0);
}

TEST_CASE("memory plan: tiles per sequence from the image config, capped by the sequence", "[plan]") {
  CHECK(train::plan_memory(tiny({"image.mode=single"}), {}).tiles_per_seq == 1);
  CHECK(train::plan_memory(tiny({"image.mode=static"}), {}).tiles_per_seq == 5);
  // dynamic nmax 9 + overview = 10 tiles of 4 tokens = 40 > 31: the budget caps at 7.
  CHECK(train::plan_memory(tiny({"image.mode=dynamic"}), {}).tiles_per_seq == 7);
  train::PlanOptions o;
  o.tiles_per_seq = 2;
  CHECK(train::plan_memory(tiny(), o).tiles_per_seq == 2);
}

TEST_CASE("memory plan: sizes parse and print", "[plan]") {
  CHECK(train::parse_bytes("80GiB", "x") == 80 * (int64_t{1} << 30));
  CHECK(train::parse_bytes("80GB", "x") == 80'000'000'000);
  CHECK(train::parse_bytes("81920MiB", "x") == 80 * (int64_t{1} << 30));
  CHECK(train::parse_bytes("1.5gib", "x") == 3 * (int64_t{1} << 29));
  CHECK(train::parse_bytes("4096", "x") == 4096);
  for (const char* bad : {"", "GiB", "80 GiB", "80XB", "-1GiB", "0GiB", "1.2.3GB"}) {
    INFO(bad);
    CHECK_THROWS_WITH(train::parse_bytes(bad, "info: --gpu-memory"),
                      Catch::Contains("info: --gpu-memory") && Catch::Contains("80GiB"));
  }
  CHECK(train::format_bytes(3 * (int64_t{1} << 30) / 2) == "1.50 GiB");
  CHECK(train::format_bytes(512 * (int64_t{1} << 20)) == "512.0 MiB");
}

TEST_CASE("memory plan: gradient accumulation holds the earlier micro-batches' gradients", "[plan]") {
  train::PlanOptions four;
  four.world = 4;
  const auto one = train::plan_memory(tiny(), four);
  const auto acc = train::plan_memory(tiny({"train.grad_accum=2"}), four);
  CHECK(acc.grad_accum == 2);
  const int64_t full_grads = 4 * acc.trainable;  // everything trains in the tiny config
  const auto& steps = acc.act_plain.steps;
  // The last micro-batch's backward, by hand: every saved activation and the held gradients at its start,
  // then each step frees what its forward saved; the gradients accumulate in place (no new bytes).
  auto walk = [&](const train::RankMemory& r, int64_t held, int64_t sending_buckets) {
    const int64_t base = r.params + r.optimizer + r.gathered + r.buckets + r.overhead;
    int64_t acts = 0, peak = 0;
    for (const auto& st : steps) acts += st.saved;
    for (size_t i = 0; i < steps.size(); ++i) {
      peak = std::max(peak, base + (i > 0 ? sending_buckets : 0) + acts + held + steps[i].working);
      acts -= steps[i].saved;
    }
    return peak;
  };
  int64_t shares = 0;  // the owned shares of the reduced gradients
  for (const auto& st : steps) shares += (4 * st.grad_params + 3) / 4;
  // none reduces once (the Reducer, after the last micro-batch): full local gradients held.
  const auto& dp = mode(acc, ShardMode::none).plain;
  CHECK(dp.peak ==
        std::max(walk(dp, full_grads, 0), dp.params + dp.optimizer + dp.buckets + dp.overhead + 2 * full_grads));
  CHECK(dp.peak > mode(one, ShardMode::none).plain.peak);
  // optimizer too, after backward, with its two buckets beside the full gradients; the step finds the shares.
  const auto& z1 = mode(acc, ShardMode::optimizer).plain;
  const int64_t z1_base = z1.params + z1.optimizer + z1.overhead;
  CHECK(z1.peak == std::max({walk({z1.params, 0, 0, z1.optimizer, 0, 0, 0, z1.overhead}, full_grads, 0),
                             z1_base + full_grads + z1.buckets, z1_base + shares + acc.trainable}));
  CHECK(z1.peak > mode(one, ShardMode::optimizer).plain.peak);
  // gradients also reduces after the last micro-batch only: full local gradients, then the buckets in flight.
  const auto& z2 = mode(acc, ShardMode::gradients).plain;
  CHECK(z2.peak == walk({z2.params, 0, 0, z2.optimizer, 0, 0, 0, z2.overhead}, full_grads, z2.buckets));
  CHECK(z2.peak > mode(one, ShardMode::gradients).plain.peak);
  // parameters reduces every micro-batch into the owned shares: those are held, not the full gradients.
  const auto& z3 = mode(acc, ShardMode::parameters).plain;
  CHECK(z3.peak ==
        std::max(walk(z3, shares, 0), z3.params + z3.optimizer + z3.gathered + z3.buckets + z3.overhead + shares +
                                          (4 * std::min<int64_t>(int64_t{1} << 26, acc.trainable) + 3) / 4));
}

TEST_CASE("memory plan: a measured batch's tile count overrides the tiles per sequence", "[plan]") {
  train::PlanOptions per_seq, per_batch, fewer;
  per_seq.tiles_per_seq = 2;  // micro-batch 2: 4 tiles
  per_batch.batch_tiles = 4;
  fewer.batch_tiles = 3;
  const auto a = train::plan_memory(tiny(), per_seq), b = train::plan_memory(tiny(), per_batch),
             c = train::plan_memory(tiny(), fewer);
  CHECK(b.batch_tiles == 4);
  CHECK(b.act_plain.total() == a.act_plain.total());
  CHECK(b.act_recompute.total() == a.act_recompute.total());
  CHECK(c.act_plain.vision < b.act_plain.vision);
  CHECK(c.act_plain.vision > 0);
}
