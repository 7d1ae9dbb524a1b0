// The sweep report's statistics (eval/ablation_report/stats.h) against mpmath
// (scripts/golden/gen_ablation_stats.py -> tests/data/golden/ablation_stats.json) and textbook values.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "eval/ablation_report/stats.h"

namespace st = mm::eval::stats;

namespace {

nlohmann::json golden() {
  return nlohmann::json::parse(mm::io::read_file(std::string(MM_TEST_DATA_DIR) + "/golden/ablation_stats.json"));
}

std::vector<double> vec(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

}  // namespace

TEST_CASE("Student t quantiles match mpmath and the textbook table", "[ablation][stats]") {
  for (const auto& q : golden()["t_quantile"]) {
    INFO("p " << q["p"] << " df " << q["df"]);
    CHECK(st::t_quantile(q["p"].get<double>(), q["df"].get<double>()) == Approx(q["t"].get<double>()).epsilon(1e-9));
  }
  // The table every statistics book prints (t_{0.975}).
  CHECK(st::t_quantile(0.975, 1) == Approx(12.706).margin(5e-4));
  CHECK(st::t_quantile(0.975, 4) == Approx(2.776).margin(5e-4));
  CHECK(st::t_quantile(0.975, 30) == Approx(2.042).margin(5e-4));
  CHECK(st::t_quantile(0.025, 4) == Approx(-2.776).margin(5e-4));
}

TEST_CASE("Student t CDF and the incomplete beta function match mpmath", "[ablation][stats]") {
  for (const auto& c : golden()["t_cdf"]) {
    INFO("t " << c["t"] << " df " << c["df"]);
    CHECK(st::t_cdf(c["t"].get<double>(), c["df"].get<double>()) == Approx(c["cdf"].get<double>()).epsilon(1e-10));
  }
  CHECK(st::incomplete_beta(2, 3, 0.4) == Approx(0.5248).epsilon(1e-12));  // 1 - (0.6^4 + 4 * 0.4 * 0.6^3)
}

TEST_CASE("95% t-intervals of a mean over seeds match mpmath", "[ablation][stats]") {
  for (const auto& g : golden()["interval"]) {
    const auto s = st::summarize(vec(g["values"]));
    CHECK(s.mean == Approx(g["mean"].get<double>()).epsilon(1e-12));
    CHECK(s.sd == Approx(g["sd"].get<double>()).epsilon(1e-12));
    REQUIRE(s.lo);
    CHECK(*s.lo == Approx(g["lo"].get<double>()).epsilon(1e-10));
    CHECK(*s.hi == Approx(g["hi"].get<double>()).epsilon(1e-10));
  }
  const auto one = st::summarize({0.4});
  CHECK(one.n == 1);
  CHECK_FALSE(one.lo);  // one seed: no interval over seeds
}

TEST_CASE("Welch's t-test matches mpmath, and needs noise on both sides", "[ablation][stats]") {
  for (const auto& g : golden()["welch"]) {
    const auto w = st::welch(vec(g["a"]), vec(g["b"]));
    REQUIRE(w);
    CHECK(w->diff == Approx(g["diff"].get<double>()).epsilon(1e-12));
    CHECK(w->t == Approx(g["t"].get<double>()).epsilon(1e-10));
    CHECK(w->df == Approx(g["df"].get<double>()).epsilon(1e-10));
    CHECK(w->p == Approx(g["p"].get<double>()).epsilon(1e-8));
  }
  CHECK_FALSE(st::welch({0.5}, {0.4, 0.45}));      // one seed: no noise estimate
  CHECK_FALSE(st::welch({0.5, 0.5}, {0.4, 0.4}));  // no spread at all
}

TEST_CASE("Holm-Bonferroni adjusted p-values match an independent implementation", "[ablation][stats]") {
  for (const auto& g : golden()["holm"]) {
    const auto adj = st::holm(vec(g["p"]));
    const auto want = vec(g["adjusted"]);
    REQUIRE(adj.size() == want.size());
    for (size_t i = 0; i < adj.size(); ++i) CHECK(adj[i] == Approx(want[i]).epsilon(1e-12));
  }
  // By hand: sorted 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.2 (x1), made non-decreasing.
  const auto h = st::holm({0.01, 0.04, 0.03, 0.2});
  CHECK(h[0] == Approx(0.04));
  CHECK(h[2] == Approx(0.09));
  CHECK(h[1] == Approx(0.09));  // 0.08 raised to the running maximum
  CHECK(h[3] == Approx(0.2));
}
