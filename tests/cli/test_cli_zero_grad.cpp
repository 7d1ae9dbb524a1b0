// dist.shard: gradients (ZeRO-2) through `mmtrain train` (Gloo, local ranks via `mmtrain launch`) on the tiny
// two-stage recipe (pretrain: AdamW, sft: Adafactor; grad_accum 2, clipping at 1.0) against plain data parallel:
// the weights and the optimizer state bit for bit on 2 ranks (both stages), within 1e-6 relative on 3 ranks (MoE,
// small buckets), each rank
// holds about 1/N of the gradients after the reduction, the bytes sent per step are data parallel's ring
// all-reduce's, a resume on the same rank count is bitwise, 2 -> 3 and 3 -> 2 ranks end within 1e-6 of data
// parallel resumed the same way, and export gives data parallel's folder.
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "cli_zero_support.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;
using namespace mm::test::zero;

namespace {

const std::string kGrad = " --set dist.shard=gradients";
// Buckets of 0.05 MiB: several in flight during backward, and the embedding's bucket (0.5 MiB, one tensor) has
// segments of 0 elements for the ranks that do not own it.
const std::string kGrad3 = kGrad + " --set dist.bucket_cap_mb=0.05";

}  // namespace

// Frozen parameters (train.params) are not in the optimizer, so neither partitioned nor reduced; an lr multiplier
// stays with its optimizer group.
TEST_CASE("dist.shard gradients with a frozen vision tower and an lr multiplier equals data parallel", "[zero][e2e]") {
  const std::string rules =
      " --set 'train.params=[{select: vision, trainable: false}, {select: connector, lr_mult: 0.5}]'";
  const fs::path dp = launch("dp2_frozen", 2, rules + " --stage pretrain"),
                 grad = launch("grad2_frozen", 2, kGrad + rules + " --stage pretrain");
  check_bitwise({model_at(grad, "pretrain")}, {model_at(dp, "pretrain")});
  const fs::path gck = grad / "pretrain/checkpoints/step_000012", dck = dp / "pretrain/checkpoints/step_000012";
  check_bitwise(shards(gck, 2), {dck / "optimizer.safetensors"});
  for (const auto& [name, t] : mm::safetensors::load((dck / "optimizer.safetensors").string()).tensors)
    CHECK(name.rfind("vision.", 0) != 0);  // the frozen tower has no optimizer state
}

// On 2 ranks the owner's sum of two copies is the ring all-reduce's sum (addition commutes): bit for bit.
TEST_CASE("dist.shard gradients equals data parallel on 2 ranks (AdamW then Adafactor)", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), grad = launch("grad2", 2, kGrad);
  for (const char* stage : {"pretrain", "sft"}) {
    INFO(stage);
    check_bitwise({model_at(grad, stage)}, {model_at(dp, stage)});
    const fs::path gck = grad / stage / "checkpoints/step_000012", dck = dp / stage / "checkpoints/step_000012";
    check_bitwise(shards(gck, 2), {dck / "optimizer.safetensors"});
  }
  const fs::path last = grad / "sft/checkpoints/step_000012";
  check_memory_and_traffic(world_dir() / "grad2.log", last / "model.safetensors", 2);
}

TEST_CASE("dist.shard gradients equals data parallel on 3 ranks (MoE)", "[zero][e2e]") {
  const fs::path dp = launch("dp3moe", 3, kMoe + " --stage pretrain"),
                 grad = launch("grad3moe", 3, kGrad3 + kMoe + " --stage pretrain");
  const double worst = check_close({model_at(grad, "pretrain")}, {model_at(dp, "pretrain")});
  WARN("largest relative weight difference to data parallel " << worst);
  const fs::path gck = grad / "pretrain/checkpoints/step_000012", dck = dp / "pretrain/checkpoints/step_000012";
  check_close(shards(gck, 3), {dck / "optimizer.safetensors"}, 1e-6, /*per_tensor=*/false);
  check_memory_and_traffic(world_dir() / "grad3moe.log", gck / "model.safetensors", 3);
}

TEST_CASE("dist.shard gradients resumes bitwise on the same rank count", "[zero][e2e]") {
  const fs::path grad = launch("grad2p", 2, kGrad + " --stage pretrain");
  const fs::path resumed = launch("grad2_resumed", 2, kGrad + " --stage pretrain --resume auto", "grad2p");
  const fs::path ck = resumed / "pretrain/checkpoints/step_000012", ref = grad / "pretrain/checkpoints/step_000012";
  check_bitwise({ck / "model.safetensors"}, {ref / "model.safetensors"});
  check_bitwise(shards(ck, 2), shards(ref, 2));
}

// The rank count changes the global batch and the stream's sharding: the reference is data parallel's step-6
// checkpoint resumed on the same new rank count.
TEST_CASE("dist.shard gradients resumes 2 -> 3 and 3 -> 2 ranks as data parallel does", "[zero][e2e][reshard]") {
  launch("dp2p", 2, " --stage pretrain"), launch("grad2p", 2, kGrad + " --stage pretrain");
  const fs::path g23 = launch("grad2to3", 3, kGrad + " --stage pretrain --resume auto", "grad2p");
  const fs::path d23 = launch("dp2to3", 3, " --stage pretrain --resume auto", "dp2p");
  check_close({model_at(g23, "pretrain")}, {model_at(d23, "pretrain")});
  check_close(shards(g23 / "pretrain/checkpoints/step_000012", 3),
              {d23 / "pretrain/checkpoints/step_000012/optimizer.safetensors"}, 1e-6, /*per_tensor=*/false);
  launch("dp3moe", 3, kMoe + " --stage pretrain"), launch("grad3moe", 3, kGrad3 + kMoe + " --stage pretrain");
  const fs::path g32 = launch("grad3to2", 2, kGrad3 + kMoe + " --stage pretrain --resume auto", "grad3moe");
  const fs::path d32 = launch("dp3to2", 2, kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_close({model_at(g32, "pretrain")}, {model_at(d32, "pretrain")});
}

TEST_CASE("export of a dist.shard gradients checkpoint gives data parallel's folder", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), grad = launch("grad2", 2, kGrad);
  check_same_export(dp / "sft/checkpoints/step_000012", grad / "sft/checkpoints/step_000012",
                    world_dir() / "export_grad2");
}
