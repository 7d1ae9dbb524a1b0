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

// a's tensors against b's (merged over each side's files): the relative L2 difference over all of them within
// `rel`, and with `per_tensor` every tensor's within 10 `rel` (one tensor left behind or wrongly updated is off by
// far more). Returns the largest per-tensor relative L2 difference (0: bitwise). Per tensor, the attention's
// k_proj.bias is the worst on 3 ranks: its gradient is 0 in exact arithmetic (the softmax ignores a shift shared
// by every key), so AdamW's updates of it follow the rounding noise, which the sum order over 3 ranks changes;
// its moments (optimizer state) are that noise itself, 10 % apart, hence no per-tensor bound on the state.
double check_close(const std::vector<fs::path>& a, const std::vector<fs::path>& b, double rel = 1e-6,
                   bool per_tensor = true) {
  const mm::TensorMap ta = merged_tensors(a), tb = merged_tensors(b);
  REQUIRE(ta.size() == tb.size());
  REQUIRE(!ta.empty());
  double worst = 0, diff_sq = 0, ref_sq = 0;
  for (const auto& [name, t] : ta) {
    INFO(name);
    REQUIRE(tb.count(name));
    const torch::Tensor u = tb.at(name).to(torch::kDouble), d = t.to(torch::kDouble) - u;
    REQUIRE(t.sizes() == u.sizes());
    const double dn = d.norm().item<double>(), un = u.norm().item<double>();
    diff_sq += dn * dn, ref_sq += un * un;
    const double r = dn / std::max(un, 1e-12);
    if (per_tensor) CHECK(r <= 10 * rel);
    worst = std::max(worst, r);
  }
  const double global = std::sqrt(diff_sq / std::max(ref_sq, 1e-24));
  INFO("relative L2 difference over all tensors " << global << ", largest per tensor " << worst);
  CHECK(global <= rel);
  return worst;
}

// What each rank logged at its last checkpoint: the gradient bytes it held after the reduction, of how many, and
// the bytes it sent (the gradient all-to-alls, the broadcasts, both).
struct GradLog {
  int64_t held = -1, total = -1, reduce_sent = -1, broadcast_sent = -1, sent = -1;
};

std::vector<GradLog> logged_gradients(const fs::path& log, int n) {
  const std::string text = read(log);
  std::vector<GradLog> out(static_cast<size_t>(n));
  const std::regex re(
      R"(rank (\d+) held (\d+) bytes of gradients after its last step's reduction \(of (\d+)\); it sent (\d+) bytes in \d+ gradient all-to-alls and (\d+) in the broadcasts, (\d+) in all)");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    GradLog& g = out.at(std::stoul((*it)[1]));
    g.held = std::stoll((*it)[2]), g.total = std::stoll((*it)[3]), g.reduce_sent = std::stoll((*it)[4]);
    g.broadcast_sent = std::stoll((*it)[5]), g.sent = std::stoll((*it)[6]);
  }
  return out;
}

// The largest parameter's bytes in a checkpoint's model.safetensors (the balance bound of the partition).
int64_t largest_tensor_bytes(const fs::path& model) {
  int64_t largest = 0;
  for (const auto& [k, t] : mm::safetensors::load(model.string()).tensors)
    largest = std::max<int64_t>(largest, t.numel() * t.element_size());
  return largest;
}

// Gradients held about 1/N each (within the largest tensor: whole tensors are owned), together at most all of them;
// the bytes sent per rank on average exactly data parallel's ring all-reduce's, 2 (N-1)/N of the gradient bytes B:
// the all-to-alls send (N-1) B over the ranks, Gloo's broadcast trees (N-1) B.
void check_memory_and_traffic(const fs::path& log, const fs::path& model, int n) {
  const auto logged = logged_gradients(log, n);
  const int64_t total = logged.front().total;
  REQUIRE(total > 0);
  const double slack = static_cast<double>(largest_tensor_bytes(model)) / static_cast<double>(total);
  int64_t held = 0, reduce_sent = 0, broadcast_sent = 0, sent = 0;
  for (int r = 0; r < n; ++r) {
    const GradLog& g = logged[static_cast<size_t>(r)];
    INFO("rank " << r << ": held " << g.held << " of " << g.total << " gradient bytes, sent " << g.sent);
    REQUIRE(g.held >= 0);
    CHECK(g.total == total);
    const double share = static_cast<double>(g.held) / static_cast<double>(total);
    CHECK(share > 0);
    CHECK(std::abs(share - 1.0 / n) <= slack);
    CHECK(g.sent == g.reduce_sent + g.broadcast_sent);
    held += g.held, reduce_sent += g.reduce_sent, broadcast_sent += g.broadcast_sent, sent += g.sent;
  }
  CHECK(held <= total);
  CHECK(held > total / 2);
  CHECK(reduce_sent == (n - 1) * total);
  CHECK(broadcast_sent == (n - 1) * total);
  const double per_rank = static_cast<double>(sent) / n, ring = 2.0 * (n - 1) / n * static_cast<double>(total);
  INFO("bytes sent per rank per step: " << per_rank << ", data parallel's ring all-reduce: " << ring);
  CHECK(per_rank == Approx(ring).epsilon(1e-12));
}

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
