#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/logging.h"
#include "support/temp_dir.h"

namespace {
std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("logging: each line carries its own component, rank 0 only by default", "[core][logging]") {
  const mm::test::TempDir tmp("mm_test_logging");
  auto path = tmp.file("mm_test_logging.log");
  auto early = mm::log::get("early");  // handed out before init: must follow the new config
  mm::log::init({"info", false, 0, path});
  mm::log::get("alpha")->info("one");
  mm::log::get("beta")->info("two");
  early->info("three");
  mm::log::get("alpha")->debug("hidden at info level");
  mm::log::get("alpha")->flush();
  auto text = read_all(path);
  CHECK(text.find("[alpha] one") != std::string::npos);
  CHECK(text.find("[beta] two") != std::string::npos);
  CHECK(text.find("[early] three") != std::string::npos);
  CHECK(text.find("hidden") == std::string::npos);

  // Rank 1 is silent unless all_ranks; with all_ranks each line names its rank.
  mm::log::init({"info", false, 1, path});
  mm::log::get("alpha")->info("from rank one, silent");
  mm::log::init({"info", true, 1, path});
  mm::log::get("alpha")->info("from rank one, shown");
  mm::log::get("alpha")->flush();
  text = read_all(path);
  CHECK(text.find("silent") == std::string::npos);
  CHECK(text.find("[rank 1] [alpha] from rank one, shown") != std::string::npos);
  mm::log::init({});
  std::remove(path.c_str());
}
