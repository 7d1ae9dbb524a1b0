// test_memory_plan: the planner against measured peaks. Each case runs
// `mmtrain bench` (warm-up 1 + 1 timed step, the GEMM peak at n = 64 so that it adds nothing) in a
// fresh process and reads its peak resident memory (VmHWM); the planner gets the same config, the
// cpu path and the bench's one single-tile image per sequence. glibc's malloc is run with a fixed
// mmap threshold of 64 KiB (MALLOC_MMAP_THRESHOLD_), so that every tensor is its own mapping and
// freed memory leaves the resident set: with the default dynamic threshold glibc keeps freed heap
// memory resident (fragmentation, which the planner ignores; scripts/memory_plan_check.sh measures
// both, docs/distributed.md has the table).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "core/config/run_config.h"
#include "trainers/plan/memory_plan.h"

using namespace mm;

namespace {

struct Measured {
  std::string preset;
  int64_t micro_batch;
  bool recompute;
};

int64_t bench_peak_rss(const Measured& m) {
  const std::string cmd =
      "MALLOC_MMAP_THRESHOLD_=65536 " + std::string(MM_MMTRAIN_EXE) + " bench --config " + MM_SOURCE_DIR +
      "/configs/models/" + m.preset +
      ".yaml --gemm 64 --steps 1 --warmup 1 --json --set loader.micro_batch=" + std::to_string(m.micro_batch) +
      " --set model.activation_checkpointing=" + (m.recompute ? "true" : "false") +
      " --set train.threads=2 2>/dev/null";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  REQUIRE(::pclose(pipe) == 0);
  return nlohmann::json::parse(out).at("peak_rss_bytes").get<int64_t>();
}

int64_t planned(const Measured& m) {
  const RunConfig cfg = load_run_config(std::string(MM_SOURCE_DIR) + "/configs/models/" + m.preset + ".yaml",
                                        {"loader.micro_batch=" + std::to_string(m.micro_batch), "train.device=cpu"});
  RunConfig c = cfg;
  c.image.tile_size = c.model.vision.image_size;  // the bench's synthetic tiles are vision.image_size
  train::PlanOptions opt;
  opt.tiles_per_seq = 1;
  const auto p = train::plan_memory(c, opt);
  const auto& none = p.modes.front();
  return m.recompute ? none.recompute.peak : none.plain.peak;
}

}  // namespace

void check_measured(const Measured& m) {
  const double measured = static_cast<double>(bench_peak_rss(m));
  const double plan = static_cast<double>(planned(m));
  INFO(m.preset << " micro-batch " << m.micro_batch << (m.recompute ? " recompute" : "") << ": plan "
                << plan / 1048576.0 << " MiB, measured " << measured / 1048576.0 << " MiB");
  CHECK(plan / measured == Approx(1.0).epsilon(0.15));
}

TEST_CASE("memory plan: within 15 % of the peak resident memory of the debug preset", "[plan][measured]") {
  check_measured({"debug", 8, false});  // its default 8 x 512
  check_measured({"debug", 8, true});
}

TEST_CASE("memory plan: within 15 % of the peak resident memory of the small preset", "[plan][measured]") {
  check_measured({"small", 1, false});  // 1 x 512 (31M parameters)
  check_measured({"small", 1, true});
}
