// metrics.jsonl lines and the console progress line on known inputs.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/temp_dir.h"
#include "trainers/metrics/metrics_jsonl.h"
#include "trainers/metrics/progress.h"

using namespace mm::train;
namespace fs = std::filesystem;

TEST_CASE("metrics.jsonl: one flushed object per step, appended across writers", "[trainers][metrics]") {
  const mm::test::TempDir tmp("mm_metrics");
  const fs::path dir = tmp.path();
  const std::string path = (dir / "run" / "metrics.jsonl").string();
  MetricsJsonl w(path);
  w.log(1, {{"loss", 3.5}, {"lr", 1e-4}, {"loss_by_source", {{"coco", 3.1}}}});
  {  // readable before the writer closes: flushed
    std::ifstream in(path);
    std::string line;
    REQUIRE(std::getline(in, line));
    const auto j = nlohmann::json::parse(line);
    CHECK(j["step"] == 1);
    CHECK(j["loss"] == 3.5);
    CHECK(j["loss_by_source"]["coco"] == 3.1);
  }
  {
    MetricsJsonl again(path);
    again.log(2, {{"loss", 3.0}});
  }  // a resumed run appends
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["step"] == 2);
  CHECK_THROWS(w.log(3, nlohmann::json::array({1, 2})));
}

TEST_CASE("progress line formatting", "[trainers][metrics]") {
  CHECK(format_duration(42.4) == "42s");
  CHECK(format_duration(185) == "3m05s");
  CHECK(format_duration(3720) == "1h02m");
  CHECK(format_duration(2 * 86400 + 3 * 3600 + 59) == "2d03h");
  CHECK(format_duration(-1) == "--");
  CHECK(format_count(950) == "950");
  CHECK(format_count(12345) == "12.3k");
  CHECK(format_count(4561000) == "4.56M");
  CHECK(format_count(999999) == "1.00M");
  CHECK(eta_seconds(120, 1000, 2.5) == Approx(2200.0));
  CHECK(eta_seconds(1000, 1000, 2.5) == 0.0);

  ProgressInfo p;
  p.stage = "pretrain";
  p.step = 120;
  p.total_steps = 1000;
  p.loss = 3.21449;
  p.lr = 2.5e-4;
  p.tokens_per_s = 12345;
  p.data_wait_frac = 0.05;
  p.sec_per_step = 4.2273;  // 880 steps left -> 3720 s
  CHECK(format_progress(p) ==
        "[pretrain] step 120/1000 (12.0%) | loss 3.2145 | lr 2.50e-04 | 12.3k tok/s | data wait 5.0% | ETA 1h02m");
  p.total_steps = 0;  // unknown total: no fraction, no ETA
  CHECK(format_progress(p) == "[pretrain] step 120 | loss 3.2145 | lr 2.50e-04 | 12.3k tok/s | data wait 5.0%");
}
