// dist.shard: optimizer (ZeRO-1) through `mmtrain train` (Gloo, local ranks via `mmtrain launch`) on the tiny
// two-stage recipe (pretrain: AdamW, sft: Adafactor; grad_accum 2, clipping at 1.0): the weights and the
// optimizer state equal plain data parallel's bit for bit on 2 and 3 ranks (dense and MoE), each rank holds
// about 1/N of the optimizer state, a resume on the same rank count is bitwise, a resume on 2 -> 3 and 3 -> 2
// ranks equals data parallel resumed the same way, and export gives the same folder.
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

#include "core/safetensors.h"
#include "support/tiny_world.h"

namespace fs = std::filesystem;

namespace {

const std::string kMmtrain = std::string(MM_BINARY_DIR) + "/src/cli/mmtrain";

// The world and every run of this process, removed at exit (a failing check prints the run's log first).
struct RemoveAtExit {
  fs::path dir;
  ~RemoveAtExit() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
} g_world;

fs::path world_dir() {
  if (g_world.dir.empty()) {
    const fs::path p = fs::temp_directory_path() / ("mm_cli_zero_" + std::to_string(getpid()));
    g_world.dir = p;
    REQUIRE(mm::test::write_tiny_world(kMmtrain, p) == 0);
  }
  return g_world.dir;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `mmtrain launch --nproc N -- train ...` once per tag (later test cases reuse earlier runs); the run
// directory is world/<tag>, its log world/<tag>.log.
fs::path launch(const std::string& tag, int nproc, const std::string& args, const std::string& prepare_from = "") {
  static std::map<std::string, bool> done;
  const fs::path w = world_dir(), dir = w / tag, log = w / (tag + ".log");
  if (done[tag]) return dir;
  fs::remove_all(dir);
  if (!prepare_from.empty()) {  // resume from step 6 of another run's pretrain stage
    fs::copy(w / prepare_from, dir, fs::copy_options::recursive);
    const fs::path ck = dir / "pretrain/checkpoints";
    for (const char* s : {"step_000009", "step_000012"}) REQUIRE(fs::remove_all(ck / s) > 0);
    std::ofstream(ck / "LATEST") << "step_000006\n";
  }
  const std::string cmd = kMmtrain + " launch --nproc " + std::to_string(nproc) + " -- train --config " +
                          (w / "recipe.yaml").string() +
                          " --no-eval --set train.keep_last=4 --set log.all_ranks=true " + args + " --run-dir " +
                          dir.string() + " > " + log.string() + " 2>&1";
  const int st = std::system(cmd.c_str());
  INFO(read(log));
  REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  done[tag] = true;
  return dir;
}

const std::string kZero = " --set dist.shard=optimizer";
const std::string kMoe =
    " --set model.llm.moe.num_experts=4 --set model.llm.moe.top_k=1 --set model.llm.moe.every=1"
    " --set model.llm.moe.expert_hidden=64 --set model.llm.moe.aux_loss_coef=0";

// Every tensor of a's file(s) equals b's bit for bit (same names, shapes, dtypes); the tensors are merged over
// the files of each side (the optimizer shards of a checkpoint).
void check_bitwise(const std::vector<fs::path>& a, const std::vector<fs::path>& b) {
  auto merge = [](const std::vector<fs::path>& files) {
    mm::TensorMap all;
    for (const auto& f : files)
      for (auto& [k, v] : mm::safetensors::load(f.string()).tensors) REQUIRE(all.emplace(k, v).second);
    return all;
  };
  const mm::TensorMap ta = merge(a), tb = merge(b);
  REQUIRE(ta.size() == tb.size());
  REQUIRE(!ta.empty());
  for (const auto& [name, t] : ta) {
    INFO(name);
    REQUIRE(tb.count(name));
    CHECK(t.sizes() == tb.at(name).sizes());
    CHECK(torch::equal(t, tb.at(name)));
  }
}

fs::path model_at(const fs::path& run, const std::string& stage, int step = 12) {
  return run / stage / "checkpoints" / fmt::format("step_{:06d}", step) / "model.safetensors";
}

std::vector<fs::path> shards(const fs::path& ck, int n) {
  std::vector<fs::path> out;
  for (int r = 0; r < n; ++r) out.push_back(ck / fmt::format("optimizer.rank{}.safetensors", r));
  return out;
}

int64_t tensor_bytes(const fs::path& file) {
  int64_t n = 0;
  for (const auto& [k, t] : mm::safetensors::load(file.string()).tensors) n += t.numel() * t.element_size();
  return n;
}

// Each rank's share of the optimizer state (tensor bytes of its shard over the whole state of data parallel's
// checkpoint) is 1/N within the largest parameter's share of the state: whole tensors, largest first, to the
// least loaded rank (what partition_by_bytes guarantees).
void check_shares(const fs::path& zero_ck, const fs::path& dp_ck, int n) {
  std::map<std::string, int64_t> per_param;
  int64_t whole = 0;
  for (const auto& [k, t] : mm::safetensors::load((dp_ck / "optimizer.safetensors").string()).tensors) {
    per_param[k.substr(0, k.rfind('.'))] += t.numel() * t.element_size();
    whole += t.numel() * t.element_size();
  }
  int64_t largest = 0, sum = 0;
  for (const auto& [k, b] : per_param) largest = std::max(largest, b);
  const double slack = static_cast<double>(largest) / static_cast<double>(whole);
  for (const auto& f : shards(zero_ck, n)) {
    const int64_t b = tensor_bytes(f);
    sum += b;
    const double share = static_cast<double>(b) / static_cast<double>(whole);
    INFO(f.string() << ": " << share << " of the state (1/N = " << 1.0 / n << ", largest parameter " << slack << ")");
    CHECK(share > 0);
    CHECK(std::abs(share - 1.0 / n) <= slack);
  }
  CHECK(sum == whole);
}

// The optimizer state and parameter shares each rank logged at its last checkpoint.
std::vector<int64_t> logged_state_bytes(const fs::path& log, int n) {
  const std::string text = read(log);
  std::vector<int64_t> out(static_cast<size_t>(n), -1);
  const std::regex re(R"(rank (\d+) holds (\d+) bytes of optimizer state)");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.at(std::stoul((*it)[1])) = std::stoll((*it)[2]);
  return out;
}

}  // namespace

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
}

TEST_CASE("dist.shard optimizer equals data parallel bitwise on 3 ranks (MoE)", "[zero][e2e]") {
  const fs::path dp = launch("dp3moe", 3, kMoe + " --stage pretrain"),
                 zero = launch("zero3moe", 3, kZero + kMoe + " --stage pretrain");
  check_bitwise({model_at(zero, "pretrain")}, {model_at(dp, "pretrain")});
  const fs::path zck = zero / "pretrain/checkpoints/step_000012", dck = dp / "pretrain/checkpoints/step_000012";
  check_bitwise(shards(zck, 3), {dck / "optimizer.safetensors"});
  check_shares(zck, dck, 3);
}

TEST_CASE("dist.shard optimizer resumes bitwise on the same rank count", "[zero][e2e]") {
  const fs::path zero = launch("zero2p", 2, kZero + " --stage pretrain");
  const fs::path resumed = launch("zero2_resumed", 2, kZero + " --stage pretrain --resume auto", "zero2p");
  const fs::path ck = resumed / "pretrain/checkpoints/step_000012", ref = zero / "pretrain/checkpoints/step_000012";
  check_bitwise({ck / "model.safetensors"}, {ref / "model.safetensors"});
  check_bitwise(shards(ck, 2), shards(ref, 2));
}

// The rank count changes the global batch and the stream's sharding, so the reference is data parallel's
// checkpoint of the same step resumed on the same new rank count (whose weights ZeRO-1 must reproduce).
TEST_CASE("dist.shard optimizer resumes 2 -> 3 ranks as data parallel does", "[zero][e2e][reshard]") {
  launch("dp2p", 2, " --stage pretrain"), launch("zero2p", 2, kZero + " --stage pretrain");
  const fs::path z23 = launch("zero2to3", 3, kZero + " --stage pretrain --resume auto", "zero2p");
  const fs::path d23 = launch("dp2to3", 3, " --stage pretrain --resume auto", "dp2p");
  check_bitwise({model_at(z23, "pretrain")}, {model_at(d23, "pretrain")});
  check_bitwise(shards(z23 / "pretrain/checkpoints/step_000012", 3),
                {d23 / "pretrain/checkpoints/step_000012/optimizer.safetensors"});
}

TEST_CASE("dist.shard optimizer resumes 3 -> 2 ranks as data parallel does and across none and optimizer (MoE)",
          "[zero][e2e][reshard]") {
  launch("dp3moe", 3, kMoe + " --stage pretrain"), launch("zero3moe", 3, kZero + kMoe + " --stage pretrain");
  const fs::path z32 = launch("zero3to2", 2, kZero + kMoe + " --stage pretrain --resume auto", "zero3moe");
  const fs::path d32 = launch("dp3to2", 2, kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_bitwise({model_at(z32, "pretrain")}, {model_at(d32, "pretrain")});
  // A sharded checkpoint also resumes without sharding (the loader merges the shards).
  const fs::path z3dp = launch("zero3_to_dp2", 2, kMoe + " --stage pretrain --resume auto", "zero3moe");
  check_bitwise({model_at(z3dp, "pretrain")}, {model_at(d32, "pretrain")});
  check_bitwise({z3dp / "pretrain/checkpoints/step_000012/optimizer.safetensors"},
                {d32 / "pretrain/checkpoints/step_000012/optimizer.safetensors"});
  // And a data-parallel checkpoint resumes with sharding (each rank takes its entries of the whole state).
  const fs::path dp3z = launch("dp3_to_zero2", 2, kZero + kMoe + " --stage pretrain --resume auto", "dp3moe");
  check_bitwise({model_at(dp3z, "pretrain")}, {model_at(d32, "pretrain")});
}

TEST_CASE("export of a dist.shard optimizer checkpoint gives data parallel's folder", "[zero][e2e]") {
  const fs::path dp = launch("dp2", 2, ""), zero = launch("zero2", 2, kZero);
  const fs::path w = world_dir();
  for (const auto& [run, out] : {std::pair{dp, w / "export_dp"}, std::pair{zero, w / "export_zero"}}) {
    const std::string cmd = kMmtrain + " export --checkpoint " + (run / "sft/checkpoints/step_000012").string() +
                            " --out " + out.string() + " > " + out.string() + ".log 2>&1";
    const int st = std::system(cmd.c_str());
    INFO(read(out.string() + ".log"));
    REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(w / "export_dp")) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), w / "export_dp");
    INFO(rel.string());
    if (rel == "config.json") {
      // Names the checkpoint it was exported from and the hash of its config (which holds dist.shard); everything
      // else must match.
      auto a = nlohmann::json::parse(read(e.path())), b = nlohmann::json::parse(read(w / "export_zero" / rel));
      CHECK(a["source"]["step"] == b["source"]["step"]);
      for (const char* k : {"checkpoint", "config_hash"}) {
        CHECK(a["source"][k] != b["source"][k]);
        a["source"].erase(k), b["source"].erase(k);
      }
      CHECK(a == b);
    } else {
      CHECK(read(e.path()) == read(w / "export_zero" / rel));
    }
    ++files;
  }
  CHECK(files >= 4);
}
