// dist.shard: optimizer (ZeRO-1) and gradients (ZeRO-2) through `mmtrain train` (Gloo, local ranks via `mmtrain
// launch`) on the tiny two-stage recipe (pretrain: AdamW, sft: Adafactor; grad_accum 2, clipping at 1.0), each mode
// against plain data parallel (whose runs both modes share): the weights and the optimizer state bit for bit on 2
// ranks (both stages; also with the vision tower frozen and an lr multiplier), within 1e-6 relative on 3 (MoE,
// small buckets: the owners sum 3 copies in another order than the ring all-reduce); each rank holds about 1/N of
// the optimizer state and, after the reduction, of the gradients; the bytes sent per step are data parallel's ring
// all-reduce's; a resume on the same rank count is bitwise; 2 -> 3 and 3 -> 2 ranks end within 1e-6 of data
// parallel resumed the same way (bitwise where both sides ran on 2 ranks); export gives data parallel's folder.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cli_zero_support.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;

using namespace mm::test::zero;

namespace {

// The two modes under test: the tag of their runs and their flags. Buckets of 0.05 MiB on 3 ranks: several in
// flight during backward, and the embedding's bucket (0.5 MiB, one tensor) has segments of 0 elements for the
// ranks that do not own it.
const std::vector<std::pair<std::string, std::string>> kModes = {{"zero", kZero},
                                                                 {"grad", " --set dist.shard=gradients"}};
const std::string kSmallBuckets = " --set dist.bucket_cap_mb=0.05";

fs::path ck12(const fs::path& run, const std::string& stage) { return run / stage / "checkpoints/step_000012"; }

}  // namespace

TEST_CASE("dist.shard optimizer and gradients equal data parallel bitwise on 2 ranks (AdamW then Adafactor)",
          "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, "");
  for (const auto& [tag, flags] : kModes) {
    const fs::path z = launch(tag + "2", 2, flags);
    for (const char* stage : {"pretrain", "sft"}) {
      INFO(tag << " " << stage);
      check_bitwise({model_at(z, stage)}, {model_at(dp, stage)});
      // The shards together are data parallel's whole optimizer state; its file holds nothing.
      check_bitwise(shards(ck12(z, stage), 2), {ck12(dp, stage) / "optimizer.safetensors"});
      CHECK(mm::safetensors::load((ck12(z, stage) / "optimizer.safetensors").string()).tensors.empty());
      CHECK(read(ck12(z, stage) / "MANIFEST").find("optimizer.rank1.safetensors") != std::string::npos);
    }
    check_memory_and_traffic(world_dir() / (tag + "2.log"), ck12(z, "sft") / "model.safetensors", 2);
  }
  // ZeRO-1's partition is balanced by the optimizer state: 1/N each within the largest parameter's state, and the
  // bytes each rank logs (slots and 8-byte step counters, counted in memory) are its shard's.
  const fs::path zero = world_dir() / "zero2";
  for (const char* stage : {"pretrain", "sft"}) check_shares(ck12(zero, stage), ck12(dp, stage), 2);
  const auto logged = logged_state_bytes(world_dir() / "zero2.log", 2);
  for (int r = 0; r < 2; ++r)
    CHECK(logged[static_cast<size_t>(r)] == tensor_bytes(shards(ck12(zero, "sft"), 2)[static_cast<size_t>(r)]));
  // Not vacuous: training moved the weights.
  const auto a = mm::safetensors::load(model_at(dp, "pretrain").string()).tensors;
  const auto b = mm::safetensors::load(model_at(dp, "sft").string()).tensors;
  double moved = 0;
  for (const auto& [k, v] : a) moved = std::max(moved, (v - b.at(k)).abs().max().item<double>());
  CHECK(moved > 1e-3);
}

// Frozen parameters (train.params) are not in the optimizer, so neither partitioned nor reduced; an lr multiplier
// stays with its optimizer group.
TEST_CASE("dist.shard optimizer and gradients with a frozen vision tower and an lr multiplier equal data parallel",
          "[zero][e2e]") {
  const std::string rules =
      " --set 'train.params=[{select: vision, trainable: false}, {select: connector, lr_mult: 0.5}]' --stage pretrain";
  const fs::path dp = launch("dp2_frozen", 2, rules);
  for (const auto& [tag, flags] : kModes) {
    INFO(tag);
    const fs::path z = launch(tag + "2_frozen", 2, flags + rules);
    check_bitwise({model_at(z, "pretrain")}, {model_at(dp, "pretrain")});
    check_bitwise(shards(ck12(z, "pretrain"), 2), {ck12(dp, "pretrain") / "optimizer.safetensors"});
  }
  for (const auto& [name, t] : mm::safetensors::load((ck12(dp, "pretrain") / "optimizer.safetensors").string()).tensors)
    CHECK(name.rfind("vision.", 0) != 0);  // the frozen tower has no optimizer state
}

TEST_CASE("dist.shard optimizer and gradients equal data parallel within 1e-6 on 3 ranks (MoE)", "[zero][e2e]") {
  const fs::path dp = launch("dp3moe", 3, kMoe + " --stage pretrain");
  for (const auto& [tag, flags] : kModes) {
    INFO(tag);
    const fs::path z = launch(tag + "3moe", 3, flags + kSmallBuckets + kMoe + " --stage pretrain");
    const double worst = check_close({model_at(z, "pretrain")}, {model_at(dp, "pretrain")});
    WARN(tag << ": largest relative weight difference to data parallel " << worst);
    check_close(shards(ck12(z, "pretrain"), 3), {ck12(dp, "pretrain") / "optimizer.safetensors"}, 1e-6,
                /*per_tensor=*/false);
    check_memory_and_traffic(world_dir() / (tag + "3moe.log"), ck12(z, "pretrain") / "model.safetensors", 3);
  }
  check_shares(ck12(world_dir() / "zero3moe", "pretrain"), ck12(dp, "pretrain"), 3);
}

TEST_CASE("dist.shard optimizer and gradients resume bitwise on the same rank count", "[zero][e2e]") {
  for (const auto& [tag, flags] : kModes) {
    INFO(tag);
    const fs::path z = launch(tag + "2p", 2, flags + " --stage pretrain");
    const fs::path resumed = launch(tag + "2_resumed", 2, flags + " --stage pretrain --resume auto", tag + "2p");
    check_bitwise({model_at(resumed, "pretrain")}, {model_at(z, "pretrain")});
    check_bitwise(shards(ck12(resumed, "pretrain"), 2), shards(ck12(z, "pretrain"), 2));
  }
}

// The rank count changes the global batch and the stream's sharding, so the reference is data parallel's step-6
// checkpoint resumed on the same new rank count (whose weights the sharded modes must reproduce, within 1e-6 where
// 3 ranks summed the gradients).
TEST_CASE("dist.shard optimizer and gradients resume 2 -> 3 and 3 -> 2 ranks as data parallel does",
          "[zero][e2e][reshard]") {
  launch("dp2p", 2, " --stage pretrain"), launch("dp3moe", 3, kMoe + " --stage pretrain");
  const fs::path d23 = launch("dp2to3", 3, " --stage pretrain --resume auto", "dp2p");
  const fs::path d32 = launch("dp3to2", 2, kMoe + " --stage pretrain --resume auto", "dp3moe");
  for (const auto& [tag, flags] : kModes) {
    INFO(tag);
    launch(tag + "2p", 2, flags + " --stage pretrain");
    const fs::path z23 = launch(tag + "2to3", 3, flags + " --stage pretrain --resume auto", tag + "2p");
    check_close({model_at(z23, "pretrain")}, {model_at(d23, "pretrain")});
    check_close(shards(ck12(z23, "pretrain"), 3), {ck12(d23, "pretrain") / "optimizer.safetensors"}, 1e-6,
                /*per_tensor=*/false);
    const std::string moe3 = flags + kSmallBuckets + kMoe;
    launch(tag + "3moe", 3, moe3 + " --stage pretrain");
    const fs::path z32 = launch(tag + "3to2", 2, moe3 + " --stage pretrain --resume auto", tag + "3moe");
    check_close({model_at(z32, "pretrain")}, {model_at(d32, "pretrain")});
  }
  // A sharded checkpoint also resumes without sharding (the loader merges the shards) ...
  const fs::path z3dp = launch("zero3_to_dp2", 2, kMoe + " --stage pretrain --resume auto", "zero3moe");
  check_close({model_at(z3dp, "pretrain")}, {model_at(d32, "pretrain")});
  check_close({ck12(z3dp, "pretrain") / "optimizer.safetensors"}, {ck12(d32, "pretrain") / "optimizer.safetensors"},
              1e-6, /*per_tensor=*/false);
  // ... and a data-parallel checkpoint with it (each rank takes its entries of the whole state): 2 ranks on both
  // sides, bitwise.
  const fs::path dp3z = launch("dp3_to_zero2", 2, kZero + kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_bitwise({model_at(dp3z, "pretrain")}, {model_at(d32, "pretrain")});
}

TEST_CASE("export of a dist.shard optimizer or gradients checkpoint gives data parallel's folder", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, "");
  for (const auto& [tag, flags] : kModes)
    check_same_export(ck12(dp, "sft"), ck12(launch(tag + "2", 2, flags), "sft"), world_dir() / ("export_" + tag));
}
