// dist.shard: optimizer (ZeRO-1) through `mmtrain train` (Gloo, local ranks via `mmtrain launch`) on the tiny
// two-stage recipe (pretrain: AdamW, sft: Adafactor; grad_accum 2, clipping at 1.0): the weights and the
// optimizer state equal plain data parallel's bit for bit on 2 ranks and within 1e-6 relative on 3 (MoE: the
// reduce-scatter sums 3 copies in another order than the ring all-reduce), each rank holds about 1/N of the
// optimizer state and, after the reduction, of the gradients, the bytes sent per step are data parallel's ring
// all-reduce's, a resume on the same rank count is bitwise, a resume on 2 -> 3 and 3 -> 2 ranks ends within 1e-6
// of data parallel resumed the same way (bitwise where both sides ran on 2 ranks), and export gives the same
// folder.
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "cli_zero_support.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

using namespace mm::test::zero;

TEST_CASE("dist.shard optimizer equals data parallel bitwise on 2 ranks (AdamW then Adafactor)", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), zero = launch("zero2", 2, kZero);
  for (const char* stage : {"pretrain", "sft"}) {
    INFO(stage);
    check_bitwise({model_at(zero, stage)}, {model_at(dp, stage)});
    // The shards together are data parallel's whole optimizer state; its file holds nothing.
    const fs::path zck = zero / stage / "checkpoints/step_000012", dck = dp / stage / "checkpoints/step_000012";
    check_bitwise(shards(zck, 2), {dck / "optimizer.safetensors"});
    CHECK(mm::safetensors::load((zck / "optimizer.safetensors").string()).tensors.empty());
    CHECK(read(zck / "MANIFEST").find("optimizer.rank1.safetensors") != std::string::npos);
    check_shares(zck, dck, 2);
  }
  // Not vacuous: training moved the weights.
  const auto a = mm::safetensors::load(model_at(dp, "pretrain").string()).tensors;
  const auto b = mm::safetensors::load(model_at(dp, "sft").string()).tensors;
  double moved = 0;
  for (const auto& [k, v] : a) moved = std::max(moved, (v - b.at(k)).abs().max().item<double>());
  CHECK(moved > 1e-3);
  // The state bytes each rank logged (slots and 8-byte step counters, counted in memory) are its shard's.
  const auto logged = logged_state_bytes(world_dir() / "zero2.log", 2);
  const fs::path last = zero / "sft/checkpoints/step_000012";
  for (int r = 0; r < 2; ++r)
    CHECK(logged[static_cast<size_t>(r)] == tensor_bytes(shards(last, 2)[static_cast<size_t>(r)]));
  check_memory_and_traffic(world_dir() / "zero2.log", last / "model.safetensors", 2);
}

TEST_CASE("dist.shard optimizer equals data parallel within 1e-6 on 3 ranks (MoE)", "[zero][e2e]") {
  const fs::path dp = launch("dp3moe", 3, kMoe + " --stage pretrain"),
                 zero = launch("zero3moe", 3, kZero + kMoe + " --stage pretrain");
  const double worst = check_close({model_at(zero, "pretrain")}, {model_at(dp, "pretrain")});
  WARN("largest relative weight difference to data parallel " << worst);
  const fs::path zck = zero / "pretrain/checkpoints/step_000012", dck = dp / "pretrain/checkpoints/step_000012";
  check_close(shards(zck, 3), {dck / "optimizer.safetensors"}, 1e-6, /*per_tensor=*/false);
  check_shares(zck, dck, 3);
  check_memory_and_traffic(world_dir() / "zero3moe.log", zck / "model.safetensors", 3);
}

TEST_CASE("dist.shard optimizer resumes bitwise on the same rank count", "[zero][e2e]") {
  const fs::path zero = launch("zero2p", 2, kZero + " --stage pretrain");
  const fs::path resumed = launch("zero2_resumed", 2, kZero + " --stage pretrain --resume auto", "zero2p");
  const fs::path ck = resumed / "pretrain/checkpoints/step_000012", ref = zero / "pretrain/checkpoints/step_000012";
  check_bitwise({ck / "model.safetensors"}, {ref / "model.safetensors"});
  check_bitwise(shards(ck, 2), shards(ref, 2));
}

// The rank count changes the global batch and the stream's sharding, so the reference is data parallel's
// checkpoint of the same step resumed on the same new rank count (whose weights ZeRO-1 must reproduce, within
// 1e-6 where 3 ranks summed the gradients).
TEST_CASE("dist.shard optimizer resumes 2 -> 3 ranks as data parallel does", "[zero][e2e][reshard]") {
  launch("dp2p", 2, " --stage pretrain"), launch("zero2p", 2, kZero + " --stage pretrain");
  const fs::path z23 = launch("zero2to3", 3, kZero + " --stage pretrain --resume auto", "zero2p");
  const fs::path d23 = launch("dp2to3", 3, " --stage pretrain --resume auto", "dp2p");
  check_close({model_at(z23, "pretrain")}, {model_at(d23, "pretrain")});
  check_close(shards(z23 / "pretrain/checkpoints/step_000012", 3),
              {d23 / "pretrain/checkpoints/step_000012/optimizer.safetensors"}, 1e-6, /*per_tensor=*/false);
}

TEST_CASE("dist.shard optimizer resumes 3 -> 2 ranks as data parallel does and across none and optimizer (MoE)",
          "[zero][e2e][reshard]") {
  launch("dp3moe", 3, kMoe + " --stage pretrain"), launch("zero3moe", 3, kZero + kMoe + " --stage pretrain");
  const fs::path z32 = launch("zero3to2", 2, kZero + kMoe + " --stage pretrain --resume auto", "zero3moe");
  const fs::path d32 = launch("dp3to2", 2, kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_close({model_at(z32, "pretrain")}, {model_at(d32, "pretrain")});
  // A sharded checkpoint also resumes without sharding (the loader merges the shards).
  const fs::path z3dp = launch("zero3_to_dp2", 2, kMoe + " --stage pretrain --resume auto", "zero3moe");
  check_close({model_at(z3dp, "pretrain")}, {model_at(d32, "pretrain")});
  check_close({z3dp / "pretrain/checkpoints/step_000012/optimizer.safetensors"},
              {d32 / "pretrain/checkpoints/step_000012/optimizer.safetensors"}, 1e-6, /*per_tensor=*/false);
  // And a data-parallel checkpoint resumes with sharding (each rank takes its entries of the whole state).
  const fs::path dp3z = launch("dp3_to_zero2", 2, kZero + kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_bitwise({model_at(dp3z, "pretrain")}, {model_at(d32, "pretrain")});
}

TEST_CASE("export of a dist.shard optimizer checkpoint gives data parallel's folder", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), zero = launch("zero2", 2, kZero);
  check_same_export(dp / "sft/checkpoints/step_000012", zero / "sft/checkpoints/step_000012",
                    world_dir() / "export_zero2");
}
