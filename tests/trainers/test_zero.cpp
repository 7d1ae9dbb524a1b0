// dist.shard: optimizer (ZeRO-1) parts that run in one process: the partition by bytes, the selection of a rank's
// optimizer entries, and checkpoints whose optimizer state is split into per-rank shard files. The multi-rank
// training itself is tests/cli/test_cli_zero.cpp.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/check.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "dist/process_group.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "support/temp_dir.h"
#include "trainers/loop/zero_optimizer.h"
#include "trainers/optim/adafactor.h"

using namespace mm;
using namespace mm::train;
namespace fs = std::filesystem;

TEST_CASE("partition_by_bytes: whole tensors, largest first to the least loaded rank", "[zero]") {
  // Largest first: 100 -> r0; 60 -> r1; 50 -> r2; 40 -> r2 (loads 100, 60, 50); 10 -> r1 (100, 60, 90);
  // the second 10 -> r1 (100, 70, 90).
  const std::vector<int64_t> bytes{100, 10, 10, 50, 40, 60};
  const std::vector<int> owner = partition_by_bytes(bytes, 3);
  CHECK(owner == std::vector<int>{0, 1, 1, 2, 2, 1});
  CHECK(partition_by_bytes(bytes, 3) == owner);
  CHECK(partition_by_bytes(bytes, 1) == std::vector<int>(6, 0));
  // Many equal tensors spread evenly; the most loaded rank is within one tensor of the least loaded one.
  std::vector<int64_t> many;
  for (int i = 0; i < 1000; ++i) many.push_back(1 + (i * 7919) % 997);
  for (int world : {2, 3, 8}) {
    std::vector<int64_t> load(static_cast<size_t>(world), 0);
    const auto o = partition_by_bytes(many, world);
    for (size_t i = 0; i < many.size(); ++i) load[static_cast<size_t>(o[i])] += many[i];
    const auto [lo, hi] = std::minmax_element(load.begin(), load.end());
    CHECK(*hi - *lo <= 997);
  }
  CHECK_THROWS_WITH(partition_by_bytes(bytes, 0), Catch::Contains("world size must be >= 1"));
}

TEST_CASE("ZeroOptimizer on one process owns everything and steps like the optimizer", "[zero]") {
  torch::manual_seed(0);
  ParamGroup g;
  g.names = {"a.weight", "a.bias"};
  g.params = {torch::randn({4, 3}).requires_grad_(), torch::randn({3}).requires_grad_()};
  Adafactor opt({g}, AdafactorOptions{});
  const dist::Group single;
  ZeroOptimizer zero(opt, single, 25);
  CHECK(opt.state_numel({4, 3}) == 4 + 3);  // what the partition balances: factored statistics for matrices
  CHECK(opt.state_numel({3}) == 3);
  CHECK(zero.owns("a.weight"));
  CHECK(zero.owned_tensors() == 2);
  CHECK(zero.owned_param_bytes() == zero.total_param_bytes());
  CHECK(zero.owned_param_bytes() == 15 * 4);
  CHECK_THROWS_WITH(zero.owns("nope"), Catch::Contains("'nope' is not a parameter of the optimizer"));
  g.params[0].mutable_grad() = torch::ones({4, 3});
  g.params[1].mutable_grad() = torch::ones({3});
  zero.step();
  // Adafactor: factored row/column statistics for the matrix, a full one for the vector.
  CHECK(zero.state_bytes() == (4 + 3 + 3) * 4 + 2 * 8);
  const TensorMap st = opt.state_dict();
  CHECK(st.count("a.weight.exp_avg_sq_row"));
  // Every entry of a parameter of the optimizer is owned here; an entry naming no parameter is kept, so that
  // load_state_dict reports it.
  TensorMap with_extra = st;
  with_extra["ghost.exp_avg"] = torch::zeros({1});
  CHECK(zero.owned_entries(with_extra).size() == st.size() + 1);
  CHECK_THROWS_WITH(opt.load_state_dict(zero.owned_entries(with_extra)), Catch::Contains("unexpected entry 'ghost"));
}

namespace {

TensorMap shard(const std::string& name, float v) {
  return {{name + ".exp_avg", torch::full({2, 2}, v)}, {name + ".step", torch::tensor(int64_t{3})}};
}

// Writes two ranks' shards into the staging folder and saves step 4 with them.
std::string save_sharded(CheckpointManager& m, const TensorMap& s0, const TensorMap& s1) {
  const fs::path staging = m.shard_staging_dir(4);
  fs::create_directories(staging);
  safetensors::save((staging / CheckpointManager::shard_file_name(0)).string(), s0);
  safetensors::save((staging / CheckpointManager::shard_file_name(1)).string(), s1);
  return m.save(4, {{"w", torch::ones({2, 2})}}, {}, {}, "model: debug\n", "",
                {(staging / CheckpointManager::shard_file_name(0)).string(),
                 (staging / CheckpointManager::shard_file_name(1)).string()});
}

void flip_last_byte(const fs::path& p) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(-1, std::ios::end);
  char c = 0;
  f.get(c);
  f.seekp(-1, std::ios::end);
  f.put(static_cast<char>(c ^ 0x01));
}

}  // namespace

TEST_CASE("a checkpoint with per-rank optimizer shards: MANIFEST, merged load, verification", "[zero][checkpoint]") {
  test::TempDir tmp("mm_zero_ckpt");
  CheckpointManager m((tmp.path() / "checkpoints").string());
  // A leftover staging folder of an interrupted save of another step is removed by the next save.
  fs::create_directories(m.shard_staging_dir(1));
  const std::string dir = save_sharded(m, shard("a", 1), shard("b", 2));
  CHECK_FALSE(fs::exists(m.shard_staging_dir(4)));
  CHECK_FALSE(fs::exists(m.shard_staging_dir(1)));
  const std::string manifest = io::read_file((fs::path(dir) / "MANIFEST").string());
  CHECK(manifest.find("optimizer.rank0.safetensors") != std::string::npos);
  CHECK(manifest.find("optimizer.rank1.safetensors") != std::string::npos);

  const Checkpoint c = CheckpointManager::load(dir);
  CHECK(c.optimizer.size() == 4);
  CHECK(torch::equal(c.optimizer.at("b.exp_avg"), torch::full({2, 2}, 2.0f)));
  CHECK(c.optimizer.at("a.step").item<int64_t>() == 3);

  // A corrupt shard: the full load refuses it, naming the file; a weights-only load (export, eval, init_from)
  // does not read the optimizer state and still works.
  flip_last_byte(fs::path(dir) / "optimizer.rank1.safetensors");
  CHECK_THROWS_WITH(CheckpointManager::load(dir),
                    Catch::Contains("optimizer.rank1.safetensors") && Catch::Contains("corrupted"));
  CHECK(CheckpointManager::load(dir, CheckpointManager::Part::kWeights).model.count("w"));
  // A truncated (or missing) shard is seen by both.
  fs::resize_file(fs::path(dir) / "optimizer.rank1.safetensors", 8);
  CHECK_THROWS_WITH(CheckpointManager::load(dir, CheckpointManager::Part::kWeights), Catch::Contains("truncated"));
}

TEST_CASE("the same optimizer entry in two shards is refused", "[zero][checkpoint]") {
  test::TempDir tmp("mm_zero_ckpt_dup");
  CheckpointManager m((tmp.path() / "checkpoints").string());
  const std::string dir = save_sharded(m, shard("a", 1), shard("a", 2));
  CHECK_THROWS_WITH(CheckpointManager::load(dir), Catch::Contains("optimizer entry 'a.exp_avg' is also in another"));
}

// The bytes a rank sends in Gloo's binomial-tree broadcast (counted by ZeroOptimizer's traffic): the root and the
// forwarding ranks send the buffer once per child, world - 1 sends in all, whatever the root.
TEST_CASE("gloo_broadcast_sends follows Gloo's binomial tree", "[zero]") {
  CHECK(gloo_broadcast_sends(0, 0, 1) == 0);
  CHECK(gloo_broadcast_sends(0, 0, 2) == 1);
  CHECK(gloo_broadcast_sends(1, 0, 2) == 0);
  // 3 ranks, root 0: 0 -> 1, then 0 -> 2 (1 would send to 3, which does not exist).
  CHECK(gloo_broadcast_sends(0, 0, 3) == 2);
  CHECK(gloo_broadcast_sends(1, 0, 3) == 0);
  // 4 ranks, root 1 (virtual ranks shifted by the root): 1 -> 2, then 1 -> 3 and 2 -> 0.
  CHECK(gloo_broadcast_sends(1, 1, 4) == 2);
  CHECK(gloo_broadcast_sends(2, 1, 4) == 1);
  CHECK(gloo_broadcast_sends(3, 1, 4) == 0);
  CHECK(gloo_broadcast_sends(0, 1, 4) == 0);
  for (int world : {2, 3, 5, 8, 13})
    for (int root = 0; root < world; ++root) {
      int sum = 0;
      for (int r = 0; r < world; ++r) sum += gloo_broadcast_sends(r, root, world);
      CHECK(sum == world - 1);
    }
  CHECK_THROWS_WITH(gloo_broadcast_sends(3, 0, 3), Catch::Contains("must lie in [0, 3)"));
}

TEST_CASE("ZeroOptimizer with sharded gradients on one process: nothing to reduce, a plain step", "[zero]") {
  torch::manual_seed(0);
  ParamGroup g;
  g.names = {"a.weight", "a.bias"};
  g.params = {torch::randn({4, 3}).requires_grad_(), torch::randn({3}).requires_grad_()};
  const torch::Tensor before = g.params[0].detach().clone();
  Adafactor opt({g}, AdafactorOptions{});
  const dist::Group single;
  ZeroOptimizer zero(opt, single, 25, /*shard_gradients=*/true);
  CHECK(zero.shards_gradients());
  CHECK(zero.owned_param_bytes() == zero.total_param_bytes());
  g.params[0].mutable_grad() = torch::ones({4, 3});
  g.params[1].mutable_grad() = torch::ones({3});
  opt.set_lr(0.1);
  zero.reduce_gradients(1.0);
  CHECK(torch::equal(g.params[0].grad(), torch::ones({4, 3})));  // untouched: one rank owns everything
  CHECK(zero.last_traffic().sent() == 0);
  zero.step();
  CHECK_FALSE(torch::equal(g.params[0].detach(), before));
  // dist.shard optimizer reduces after backward (reduce_gradients), never during it.
  ZeroOptimizer plain(opt, single, 25);
  CHECK_NOTHROW(plain.reduce_gradients(1.0));
  CHECK_THROWS_WITH(plain.begin_reduction(1.0, g.params[0].sum()),
                    Catch::Contains("during backward only under dist.shard gradients"));
}
