// Helpers of the dist.shard end-to-end tests (test_cli_zero, test_cli_zero3): `mmtrain launch
// --nproc N -- train` on the tiny two-stage recipe (tests/cli/tiny_world.sh) in a world removed at exit, and
// comparisons of the checkpoints' tensors.
#pragma once
#include <fmt/format.h>
#include <catch2/catch.hpp>

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
#include <vector>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "support/tiny_world.h"

namespace mm::test::zero {

namespace fs = std::filesystem;

inline const std::string kMmtrain = std::string(MM_BINARY_DIR) + "/src/cli/mmtrain";

// The world and every run of this process, removed at exit (a failing check prints the run's log first).
struct RemoveAtExit {
  fs::path dir;
  ~RemoveAtExit() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};
inline RemoveAtExit g_world;

inline fs::path world_dir() {
  if (g_world.dir.empty()) {
    const fs::path p = fs::temp_directory_path() / ("mm_cli_zero_" + std::to_string(getpid()));
    g_world.dir = p;
    REQUIRE(mm::test::write_tiny_world(kMmtrain, p) == 0);
  }
  return g_world.dir;
}

inline std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `mmtrain launch --nproc N -- train ...` once per tag (later test cases reuse earlier runs); the run
// directory is world/<tag>, its log world/<tag>.log.
inline fs::path launch(const std::string& tag, int nproc, const std::string& args,
                       const std::string& prepare_from = "") {
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

inline const std::string kZero = " --set dist.shard=optimizer";
inline const std::string kMoe =
    " --set model.llm.moe.num_experts=4 --set model.llm.moe.top_k=1 --set model.llm.moe.every=1"
    " --set model.llm.moe.expert_hidden=64 --set model.llm.moe.aux_loss_coef=0";

// The tensors of several safetensors files as one map (the optimizer shards of a checkpoint); a name in two files
// fails.
inline mm::TensorMap merged_tensors(const std::vector<fs::path>& files) {
  mm::TensorMap all;
  for (const auto& f : files)
    for (auto& [k, v] : mm::safetensors::load(f.string()).tensors) REQUIRE(all.emplace(k, v).second);
  return all;
}

// Every tensor of a's file(s) equals b's bit for bit (same names, shapes, dtypes); the tensors are merged over
// the files of each side (the optimizer shards of a checkpoint).
inline void check_bitwise(const std::vector<fs::path>& a, const std::vector<fs::path>& b) {
  const mm::TensorMap ta = merged_tensors(a), tb = merged_tensors(b);
  REQUIRE(ta.size() == tb.size());
  REQUIRE(!ta.empty());
  for (const auto& [name, t] : ta) {
    INFO(name);
    REQUIRE(tb.count(name));
    CHECK(t.sizes() == tb.at(name).sizes());
    CHECK(torch::equal(t, tb.at(name)));
  }
}

inline fs::path model_at(const fs::path& run, const std::string& stage, int step = 12) {
  return run / stage / "checkpoints" / fmt::format("step_{:06d}", step) / "model.safetensors";
}

// Exports both checkpoints (mmtrain export) into out_base/export_dp and out_base/export_sharded and checks that the
// folders are the same: every file byte for byte, except that config.json's "source" names the checkpoint and the
// hash of its config (which covers dist.shard); the rest of config.json must match.
inline void check_same_export(const fs::path& dp_checkpoint, const fs::path& sharded_checkpoint,
                              const fs::path& out_base) {
  const fs::path out_dp = out_base / "export_dp", out_sharded = out_base / "export_sharded";
  fs::create_directories(out_base);
  for (const auto& [ck, out] : {std::pair{dp_checkpoint, out_dp}, std::pair{sharded_checkpoint, out_sharded}}) {
    const std::string cmd = kMmtrain + " export --checkpoint " + ck.string() + " --out " + out.string() + " > " +
                            out.string() + ".log 2>&1";
    const int st = std::system(cmd.c_str());
    INFO(read(out.string() + ".log"));
    REQUIRE((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  }
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out_dp)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), out_dp), twin = out_sharded / rel;
    INFO(rel.string());
    REQUIRE(fs::exists(twin));
    if (rel == "config.json") {
      auto a = nlohmann::json::parse(read(e.path())), b = nlohmann::json::parse(read(twin));
      CHECK(a["source"]["step"] == b["source"]["step"]);
      for (const char* k : {"checkpoint", "config_hash"}) {
        CHECK(a["source"][k] != b["source"][k]);
        a["source"].erase(k), b["source"].erase(k);
      }
      CHECK(a == b);
    } else {
      CHECK(read(e.path()) == read(twin));
    }
    ++files;
  }
  CHECK(files >= 4);
}

inline std::vector<fs::path> shards(const fs::path& ck, int n) {
  std::vector<fs::path> out;
  for (int r = 0; r < n; ++r) out.push_back(ck / fmt::format("optimizer.rank{}.safetensors", r));
  return out;
}

inline int64_t tensor_bytes(const fs::path& file) {
  int64_t n = 0;
  for (const auto& [k, t] : mm::safetensors::load(file.string()).tensors) n += t.numel() * t.element_size();
  return n;
}

// Each rank's share of the optimizer state (tensor bytes of its shard over the whole state of data parallel's
// checkpoint) is 1/N within the largest parameter's share of the state: whole tensors, largest first, to the
// least loaded rank (what partition_by_bytes guarantees).
inline void check_shares(const fs::path& zero_ck, const fs::path& dp_ck, int n) {
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
inline std::vector<int64_t> logged_state_bytes(const fs::path& log, int n) {
  const std::string text = read(log);
  std::vector<int64_t> out(static_cast<size_t>(n), -1);
  const std::regex re(R"(rank (\d+) holds (\d+) bytes of optimizer state)");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    out.at(std::stoul((*it)[1])) = std::stoll((*it)[2]);
  return out;
}

// a's tensors against b's (merged over each side's files): the relative L2 difference over all of them within
// `rel`, and with `per_tensor` every tensor's within 10 `rel` (one tensor left behind or wrongly updated is off by
// far more). Returns the largest per-tensor relative L2 difference (0: bitwise). Per tensor, the attention's
// k_proj.bias is the worst on 3 ranks: its gradient is 0 in exact arithmetic (the softmax ignores a shift shared
// by every key), so AdamW's updates of it follow the rounding noise, which the sum order over 3 ranks changes;
// its moments (optimizer state) are that noise itself, 10 % apart, hence no per-tensor bound on the state.
inline double check_close(const std::vector<fs::path>& a, const std::vector<fs::path>& b, double rel = 1e-6,
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

inline std::vector<GradLog> logged_gradients(const fs::path& log, int n) {
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
inline int64_t largest_tensor_bytes(const fs::path& model) {
  int64_t largest = 0;
  for (const auto& [k, t] : mm::safetensors::load(model.string()).tensors)
    largest = std::max<int64_t>(largest, t.numel() * t.element_size());
  return largest;
}

// Gradients held about 1/N each (within the largest tensor: whole tensors are owned), together at most all of them;
// the bytes sent per rank on average exactly data parallel's ring all-reduce's, 2 (N-1)/N of the gradient bytes B:
// the all-to-alls send (N-1) B over the ranks, Gloo's broadcast trees (N-1) B.
inline void check_memory_and_traffic(const fs::path& log, const fs::path& model, int n) {
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

}  // namespace mm::test::zero
