// dist.shard: parameters (ZeRO-3) through `mmtrain train` (Gloo, local ranks via `mmtrain launch`) on the tiny
// two-stage recipe (pretrain: AdamW, sft: Adafactor; clipping at 1.0). Without gradient accumulation the weights
// and the optimizer state equal plain data parallel's bit for bit on 2 ranks, with micro-batches of one sequence
// so that some rank's micro-batch has no image while another's has (the blank-tile path). With accumulation
// (grad_accum 2) and on 3 ranks (MoE) the sums associate differently (each micro-batch is reduced on its own):
// every tensor within 1e-6 relative of data parallel's but the ViT's attention key bias, whose exact gradient is 0
// (softmax ignores a constant added to every key), so its gradient is rounding noise that Adam and Adafactor
// normalise into steps of the learning rate's size (data parallel on another rank count moves it the same way).
// Each rank holds 1/N of the parameters between steps and its share plus the tied embedding plus the largest
// unit during a step (storage bytes counted in trainers/loop/zero_params.cpp); the bytes it moves per step equal
// the theory, 1.5x data parallel's per synchronisation; a resume on the same rank count is bitwise, 2 -> 3 ranks
// matches data parallel resumed the same way, and export matches data parallel's.
#include "cli_zero_support.h"

using namespace mm::test::zero;

namespace {

const std::string kParams = " --set dist.shard=parameters";
const std::string kNoAccum = " --set train.grad_accum=1 --set loader.micro_batch=1";

// The ViT's attention key biases: a zero gradient up to rounding (see the top).
bool noise_gradient(const std::string& name) {
  return name.rfind("vision.", 0) == 0 && name.size() > 21 && name.substr(name.size() - 21) == "self_attn.k_proj.bias";
}

// The largest relative difference ||a - b|| / ||b|| over the tensors of two safetensors files (same names, shapes);
// the noise-gradient tensors are checked within 10 % (they train alike) and left out of the result.
double max_relative_difference(const fs::path& a, const fs::path& b) {
  const mm::TensorMap ta = mm::safetensors::load(a.string()).tensors, tb = mm::safetensors::load(b.string()).tensors;
  REQUIRE(ta.size() == tb.size());
  REQUIRE(!ta.empty());
  double worst = 0;
  for (const auto& [name, t] : ta) {
    INFO(name);
    REQUIRE(tb.count(name));
    REQUIRE(t.sizes() == tb.at(name).sizes());
    const auto x = t.to(torch::kDouble), y = tb.at(name).to(torch::kDouble);
    const double denom = std::max(y.norm().item<double>(), 1e-30);
    const double rel = (x - y).norm().item<double>() / denom;
    if (noise_gradient(name))
      CHECK(rel <= 0.1);
    else
      worst = std::max(worst, rel);
  }
  return worst;
}

// What each rank logged at its last checkpoint (stage_zero3.cpp's two lines).
struct RankLog {
  int64_t resident = -1, owned = -1, total = -1, peak = -1, largest_unit = -1, blank_tiles = -1;
  int64_t gathers = -1, gather_received = -1, gather_sent = -1, reduces = -1, reduce_sent = -1, reduce_received = -1;
  int64_t prefetched = -1, prefetched_backward = -1;
};

std::vector<RankLog> rank_logs(const fs::path& log, const std::string& stage, int n) {
  const std::string text = read(log);
  std::vector<RankLog> out(static_cast<size_t>(n));
  const std::regex mem(
      "stage '" + stage +
      R"(': rank (\d+) holds (\d+) parameter bytes between steps \(owns (\d+) of (\d+)\); peak (\d+) in its last step )"
      R"(\(largest unit (\d+)\); (\d+) batches without images)");
  for (std::sregex_iterator it(text.begin(), text.end(), mem), end; it != end; ++it) {
    RankLog& r = out.at(std::stoul((*it)[1]));
    r.resident = std::stoll((*it)[2]), r.owned = std::stoll((*it)[3]), r.total = std::stoll((*it)[4]);
    r.peak = std::stoll((*it)[5]), r.largest_unit = std::stoll((*it)[6]), r.blank_tiles = std::stoll((*it)[7]);
  }
  const std::regex traffic(
      "stage '" + stage +
      R"(': rank (\d+) last step: (\d+) gathers received (\d+) bytes and sent (\d+); (\d+) reduces sent (\d+) bytes )"
      R"(and received (\d+) \(\d+ flag bytes\); (\d+) gathers prefetched in forward and (\d+) in backward)");
  for (std::sregex_iterator it(text.begin(), text.end(), traffic), end; it != end; ++it) {
    RankLog& r = out.at(std::stoul((*it)[1]));
    r.gathers = std::stoll((*it)[2]), r.gather_received = std::stoll((*it)[3]), r.gather_sent = std::stoll((*it)[4]);
    r.reduces = std::stoll((*it)[5]), r.reduce_sent = std::stoll((*it)[6]), r.reduce_received = std::stoll((*it)[7]);
    r.prefetched = std::stoll((*it)[8]), r.prefetched_backward = std::stoll((*it)[9]);
  }
  for (int r = 0; r < n; ++r) {
    INFO("rank " << r);
    REQUIRE(out[static_cast<size_t>(r)].total > 0);
    REQUIRE(out[static_cast<size_t>(r)].gathers >= 0);
  }
  return out;
}

// Bytes of the largest tensor of a model file and of the tied token embedding.
std::pair<int64_t, int64_t> largest_and_embedding(const fs::path& model) {
  int64_t largest = 0, embed = 0;
  for (const auto& [k, t] : mm::safetensors::load(model.string()).tensors) {
    const int64_t b = t.numel() * t.element_size();
    largest = std::max(largest, b);
    if (k == "llm.embed_tokens.weight") embed = b;
  }
  REQUIRE(embed > 0);
  return {largest, embed};
}

// Memory: between steps a rank holds exactly the tensors it owns, 1/N of the whole within the largest tensor
// (whole tensors, largest first to the least loaded rank); during the step at most that plus the tied embedding
// (held across the decoder) plus the largest unit. Traffic per step (grad_accum micro-batches): every unit is
// gathered twice per micro-batch (forward, backward), so a rank receives 2 x A x (total - owned) and sends
// 2 x A x owned as the owner; its gradients go once per micro-batch to their owners: A x (total - owned) sent
// (every parameter trains in this recipe). Data parallel's ring all-reduce sends 2 (N-1)/N x total per
// synchronisation: the ratio of a micro-batch's traffic, 3 (N-1)/N x total, to it is 1.5 up to the imbalance.
// Returns the number of micro-batches without images that ran the encoder on a blank tile (all ranks).
int64_t check_memory_and_traffic(const fs::path& run, const std::string& stage, int n, int64_t a = 2) {
  INFO(stage);
  const std::vector<RankLog> logs = rank_logs(run.string() + ".log", stage, n);
  const auto [largest, embed] = largest_and_embedding(model_at(run, stage));
  int64_t owned_sum = 0, blank = 0;
  for (int r = 0; r < n; ++r) {
    const RankLog& l = logs[static_cast<size_t>(r)];
    INFO("rank " << r << ": holds " << l.resident << ", owns " << l.owned << " of " << l.total << ", peak " << l.peak
                 << ", largest unit " << l.largest_unit << ", largest tensor " << largest << ", embedding " << embed);
    owned_sum += l.owned;
    blank += l.blank_tiles;
    CHECK(l.resident == l.owned);
    CHECK(std::abs(static_cast<double>(l.owned) - static_cast<double>(l.total) / n) <= static_cast<double>(largest));
    CHECK(l.peak > l.owned);
    CHECK(l.peak <= l.owned + embed + l.largest_unit);
    CHECK(l.gather_received == 2 * a * (l.total - l.owned));
    CHECK(l.gather_sent == 2 * a * l.owned);
    CHECK(l.reduce_sent == a * (l.total - l.owned));
    // Every unit pass but a micro-batch's first in each direction was prefetched during the pass before it (the
    // last step's micro-batches all follow one): some in each direction, and at most its half of the gathers.
    CHECK(l.prefetched > 0);
    CHECK(l.prefetched_backward > 0);
    CHECK(2 * l.prefetched <= l.gathers);
    CHECK(2 * l.prefetched_backward <= l.gathers);
    const double dp = 2.0 * (n - 1) / n * static_cast<double>(l.total);
    const double ratio = static_cast<double>(l.gather_received + l.reduce_sent) / a / dp;
    INFO("traffic per micro-batch / data parallel's per synchronisation: " << ratio);
    CHECK(std::abs(ratio - 1.5) <= 1.5 * static_cast<double>(largest) * n / static_cast<double>(l.total));
  }
  CHECK(owned_sum == logs[0].total);
  return blank;
}

}  // namespace

TEST_CASE("dist.shard parameters equals data parallel bitwise on 2 ranks without accumulation (AdamW then Adafactor)",
          "[zero3][e2e]") {
  const fs::path dp = launch("dp2_1", 2, kNoAccum), z = launch("z3_2_1", 2, kParams + kNoAccum);
  for (const std::string stage : {"pretrain", "sft"}) {
    INFO(stage);
    check_bitwise({model_at(z, stage)}, {model_at(dp, stage)});
    const fs::path ck = model_at(z, stage).parent_path(), dp_ck = model_at(dp, stage).parent_path();
    check_bitwise(shards(ck, 2), {dp_ck / "optimizer.safetensors"});
  }
  // Some rank's micro-batch had no image (while another's had: the weights equal data parallel's, which skips
  // the encoder there): the blank-tile path ran.
  CHECK(check_memory_and_traffic(z, "pretrain", 2, 1) > 0);
  check_memory_and_traffic(z, "sft", 2, 1);
}

TEST_CASE("dist.shard parameters equals data parallel within 1e-6 on 2 ranks with accumulation", "[zero3][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), z = launch("z3_2", 2, kParams);
  for (const std::string stage : {"pretrain", "sft"}) {
    INFO(stage);
    CHECK(max_relative_difference(model_at(z, stage), model_at(dp, stage)) <= 1e-6);
    check_memory_and_traffic(z, stage, 2);
  }
}

TEST_CASE("dist.shard parameters equals data parallel within 1e-6 on 3 ranks (MoE)", "[zero3][e2e]") {
  const fs::path dp = launch("dp3_moe", 3, kMoe), z = launch("z3_3_moe", 3, kParams + kMoe);
  for (const std::string stage : {"pretrain", "sft"}) {
    INFO(stage);
    CHECK(max_relative_difference(model_at(z, stage), model_at(dp, stage)) <= 1e-6);
    check_memory_and_traffic(z, stage, 3);
  }
}
TEST_CASE("dist.shard parameters resumes bitwise on the same rank count", "[zero3][e2e]") {
  const fs::path full = launch("z3_2", 2, kParams);
  const fs::path resumed = launch("z3_2_resumed", 2, kParams + " --resume auto", "z3_2");
  for (const std::string stage : {"pretrain", "sft"}) {
    INFO(stage);
    check_bitwise({model_at(resumed, stage)}, {model_at(full, stage)});
    const fs::path ck = model_at(full, stage).parent_path(), ck2 = model_at(resumed, stage).parent_path();
    check_bitwise(shards(ck2, 2), shards(ck, 2));
  }
}

TEST_CASE("dist.shard parameters resumes 2 -> 3 ranks as data parallel does", "[zero3][e2e][reshard]") {
  launch("dp2", 2, "");
  launch("z3_2", 2, kParams);
  const fs::path dp = launch("dp2_to_3", 3, " --resume auto", "dp2");
  const fs::path z = launch("z3_2_to_3", 3, kParams + " --resume auto", "z3_2");
  for (const std::string stage : {"pretrain", "sft"}) {
    INFO(stage);
    CHECK(max_relative_difference(model_at(z, stage), model_at(dp, stage)) <= 1e-6);
  }
}

TEST_CASE("export of a dist.shard parameters checkpoint gives data parallel's folder", "[zero3][e2e]") {
  const fs::path dp = launch("dp2_1", 2, kNoAccum), z = launch("z3_2_1", 2, kParams + kNoAccum);
  check_same_export(model_at(dp, "sft").parent_path(), model_at(z, "sft").parent_path(),
                    z.parent_path() / "export_z3_2_1");
}
