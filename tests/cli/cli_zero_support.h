// Helpers of the dist.shard end-to-end tests (test_cli_zero, test_cli_zero_grad, test_cli_zero3): `mmtrain launch
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

}  // namespace mm::test::zero
