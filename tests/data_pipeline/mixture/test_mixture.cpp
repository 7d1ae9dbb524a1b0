// Tests of the hierarchical mixture: the paper's SFT shares, sampled proportions, determinism,
// exact save/restore, and the sharding union property across rank counts.
#include <catch2/catch.hpp>

#include <map>
#include <ostream>
#include <set>

#include "core/check.h"
#include "data_pipeline/mixture/counter_rng.h"
#include "data_pipeline/mixture/mixture_plan.h"
#include "data_pipeline/mixture/mixture_sampler.h"

using namespace mm;
using namespace mm::data;

namespace mm::data {
// For Catch2's messages (and glog's vector printer, which the torch PCH pulls in).
std::ostream& operator<<(std::ostream& os, const MixtureDraw& d) {
  return os << "{p" << d.position << " s" << d.source << " i" << d.index << " e" << d.epoch << "}";
}
}  // namespace mm::data

namespace {

SourceConfig src(const std::string& name, const std::string& category, double weight = 1.0) {
  SourceConfig s;
  s.name = name;
  s.category = category;
  s.weight = weight;
  return s;
}

// MM1.5's SFT mixture: single-image 0.8 with alphas relative to general, multi-image and
// text-only 0.1 each.
MixtureConfig paper_sft_mixture() {
  MixtureConfig m;
  MixtureGroupConfig single;
  single.name = "single-image";
  single.weight = 0.8;
  single.reference = "general";
  single.categories = {{"general", 0, 0}, {"text-rich", 0, 3.3}, {"refer&ground", 0, 2.0},
                       {"math", 0, 0.5},  {"code", 0, 0.2},      {"science", 0, 0.1}};
  MixtureGroupConfig multi;
  multi.name = "multi-image";
  multi.weight = 0.1;
  MixtureGroupConfig text;
  text.name = "text-only";
  text.weight = 0.1;
  m.groups = {single, multi, text};
  return m;
}

std::vector<SourceConfig> paper_sft_sources() {
  return {src("vqa_a", "general", 3),     src("vqa_b", "general", 1), src("docs", "text-rich"),
          src("refcoco", "refer&ground"), src("mathv", "math"),       src("code", "code"),
          src("sci", "science"),          src("nlvr", "multi-image"), src("chat", "text-only")};
}

std::vector<MixtureDraw> take(MixtureSampler& s, int n) {
  std::vector<MixtureDraw> out;
  for (int i = 0; i < n; ++i) out.push_back(s.next());
  return out;
}

}  // namespace

TEST_CASE("alpha ratios reproduce the paper's SFT category shares", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  // Paper: text-rich 37.2%, refer&ground 22.5%, general 11.3%, math 5.6%, code 2.3%,
  // science 1.1%, multi-image 10%, text-only 10% (rounded to 0.1%).
  const std::map<std::string, double> expected = {{"text-rich", 37.2}, {"refer&ground", 22.5}, {"general", 11.3},
                                                  {"math", 5.6},       {"code", 2.3},          {"science", 1.1},
                                                  {"multi-image", 10}, {"text-only", 10}};
  for (const auto& [name, pct] : expected) {
    INFO(name);
    CHECK(100.0 * plan.category_share(name) == Approx(pct).margin(0.051));
  }
  // Sources split their category by weight: general 3:1.
  double total = 0;
  for (const auto& s : plan.sources) total += s.share;
  CHECK(total == Approx(1.0));
  CHECK(plan.sources[0].share == Approx(0.75 * plan.category_share("general")));
  CHECK(plan.sources[0].group == "single-image");
  CHECK(plan.to_table().find("refcoco") != std::string::npos);
  CHECK(plan.to_json()["categories"].size() == 8);
}

TEST_CASE("pretraining ratio 50:10:40 and flat weights", "[mixture]") {
  MixtureConfig m;
  m.groups = {{"caption", 50, "general", {}}, {"interleaved", 10, "general", {}}, {"text", 40, "general", {}}};
  const auto plan = compute_mixture_plan(
      m, {src("cc", "caption", 2), src("wds", "caption", 2), src("obelics", "interleaved"), src("web", "text")});
  CHECK(plan.sources[0].share == Approx(0.25));
  CHECK(plan.sources[2].share == Approx(0.10));
  CHECK(plan.sources[3].share == Approx(0.40));

  const auto flat = compute_mixture_plan(MixtureConfig{}, {src("a", "x", 1), src("b", "y", 3)});
  CHECK(flat.sources[1].share == Approx(0.75));
  CHECK(flat.category_share("y") == Approx(0.75));
}

TEST_CASE("inconsistent mixtures fail with a message naming the culprit", "[mixture]") {
  auto m = paper_sft_mixture();
  auto sources = paper_sft_sources();
  sources.push_back(src("orphan", "charts"));
  CHECK_THROWS_WITH(compute_mixture_plan(m, sources), Catch::Contains("'orphan'") && Catch::Contains("charts"));

  sources = paper_sft_sources();
  sources.pop_back();  // text-only has no source
  CHECK_THROWS_WITH(compute_mixture_plan(m, sources), Catch::Contains("'text-only' has no sources"));

  m.groups[0].categories[1].weight = 1.0;  // text-rich given a weight and an alpha
  CHECK_THROWS_WITH(compute_mixture_plan(m, paper_sft_sources()), Catch::Contains("not both"));

  m = paper_sft_mixture();
  m.groups[0].categories[0].alpha = 2.0;  // reference must be 1
  CHECK_THROWS_WITH(compute_mixture_plan(m, paper_sft_sources()), Catch::Contains("alpha 1"));
  CHECK_THROWS_AS(compute_mixture_plan(paper_sft_mixture(), {src("a", "general"), src("a", "general")}), mm::Error);
}

TEST_CASE("the Feistel shuffle is a permutation for every size", "[mixture]") {
  for (uint64_t n : {1, 2, 3, 7, 64, 100, 1000, 4097}) {
    FeistelPermutation p(n, 42 + n);
    std::set<uint64_t> seen;
    for (uint64_t i = 0; i < n; ++i) seen.insert(p.at(i));
    CHECK(seen.size() == n);
    CHECK(*seen.rbegin() == n - 1);
  }
  // Different keys give different orders.
  FeistelPermutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (uint64_t i = 0; i < 1000; ++i) same += a.at(i) == b.at(i);
  CHECK(same < 20);
}

TEST_CASE("sampled proportions match the effective shares over 100k draws", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  MixtureSampler s(plan, std::vector<int64_t>(plan.sources.size(), 997), {7, "random", 0});
  const int n = 100000;
  std::vector<int> counts(plan.sources.size(), 0);
  for (int i = 0; i < n; ++i) counts[s.next().source]++;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double p = plan.sources[i].share;
    const double sigma = std::sqrt(p * (1 - p) / n);
    INFO(plan.sources[i].name << " expected " << p << " got " << counts[i] / double(n));
    CHECK(std::abs(counts[i] / double(n) - p) < 4.5 * sigma);
  }
}

TEST_CASE("epochs visit every record once, with a fresh order each epoch", "[mixture]") {
  const auto plan = compute_mixture_plan(MixtureConfig{}, {src("only", "general")});
  MixtureSampler s(plan, {50}, {3, "random", 0});
  const auto draws = take(s, 150);
  std::vector<std::vector<int64_t>> epochs(3);
  for (const auto& d : draws) epochs[d.epoch].push_back(d.index);
  for (auto e : epochs) {
    REQUIRE(e.size() == 50);
    std::set<int64_t> uniq(e.begin(), e.end());
    CHECK(uniq.size() == 50);
  }
  CHECK(epochs[0] != epochs[1]);
  CHECK(epochs[1] != epochs[2]);
}

TEST_CASE("per-batch sampling puts each source's share in every batch", "[mixture]") {
  // The OCR stage: four sources sampled equally in every batch.
  const auto plan = compute_mixture_plan(
      MixtureConfig{}, {src("pdfa", "ocr"), src("idl", "ocr"), src("rendered", "ocr"), src("docstruct", "ocr")});
  MixtureSampler s(plan, {100, 200, 300, 400}, {11, "per_batch", 8});
  std::set<std::vector<int32_t>> orders;
  for (int b = 0; b < 50; ++b) {
    std::vector<int> counts(4, 0);
    std::vector<int32_t> order;
    for (int j = 0; j < 8; ++j) {
      const auto d = s.next();
      counts[d.source]++;
      order.push_back(d.source);
    }
    CHECK(counts == std::vector<int>{2, 2, 2, 2});
    orders.insert(order);
  }
  CHECK(orders.size() > 10);  // slots are shuffled, not a fixed pattern

  // Unequal shares: floor or ceil of B * share in every batch.
  const auto plan2 = compute_mixture_plan(MixtureConfig{}, {src("a", "x", 1), src("b", "x", 2), src("c", "x", 7)});
  MixtureSampler s2(plan2, {10, 10, 10}, {5, "per_batch", 6});
  for (int b = 0; b < 100; ++b) {
    std::vector<int> counts(3, 0);
    for (int j = 0; j < 6; ++j) counts[s2.next().source]++;
    CHECK((counts[0] == 0 || counts[0] == 1));
    CHECK((counts[1] == 1 || counts[1] == 2));
    CHECK((counts[2] == 4 || counts[2] == 5));
  }
}

TEST_CASE("the stream is deterministic for a seed and differs across seeds", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  const std::vector<int64_t> sizes = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  MixtureSampler a(plan, sizes, {99, "random", 0}), b(plan, sizes, {99, "random", 0}),
      c(plan, sizes, {100, "random", 0});
  const auto da = take(a, 2000), db = take(b, 2000), dc = take(c, 2000);
  CHECK(da == db);
  CHECK(da != dc);
}

TEST_CASE("save and restore mid-stream continues identically", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  const std::vector<int64_t> sizes = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  for (const std::string mode : {"random", "per_batch"}) {
    MixtureSampler a(plan, sizes, {5, mode, 16});
    take(a, 1237);
    const std::string saved = a.state().dump();
    const auto expected = take(a, 3000);

    MixtureSampler b(plan, sizes, {0, "random", 0});  // options come from the state
    b.load_state(nlohmann::json::parse(saved));
    CHECK(b.position() == 1237);
    CHECK(take(b, 3000) == expected);
  }
  // A source whose size changed cannot resume the same stream.
  MixtureSampler a(plan, sizes, {5, "random", 0});
  auto st = a.state();
  st["sources"][2]["size"] = 31;
  CHECK_THROWS_WITH(a.load_state(st), Catch::Contains("'docs'") && Catch::Contains("had 31 records"));
}

TEST_CASE("ranks together consume exactly the single-process stream", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  const std::vector<int64_t> sizes = {10, 20, 30, 40, 50, 60, 70, 80, 90};
  const int64_t B = 12, steps = 40;
  MixtureSampler single(plan, sizes, {21, "random", 0});
  const auto reference = take(single, static_cast<int>(B * steps));
  for (int world : {1, 2, 3}) {
    std::vector<MixtureSampler> ranks;
    for (int r = 0; r < world; ++r) ranks.emplace_back(plan, sizes, MixtureSamplerOptions{21, "random", 0});
    std::vector<MixtureDraw> all;
    for (int64_t step = 0; step < steps; ++step)
      for (int r = 0; r < world; ++r) {
        auto mine = ranks[r].next_batch(B, r, world);
        CHECK(mine.size() == static_cast<size_t>(B / world));
        all.insert(all.end(), mine.begin(), mine.end());
      }
    std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.position < y.position; });
    INFO("world " << world);
    CHECK(all == reference);
    for (int r = 1; r < world; ++r) CHECK(ranks[r].state() == ranks[0].state());
  }
}

TEST_CASE("a run saved on 2 ranks resumes on 1 (and on 3) with nothing repeated or skipped", "[mixture]") {
  const auto plan = compute_mixture_plan(paper_sft_mixture(), paper_sft_sources());
  const std::vector<int64_t> sizes = {7, 20, 30, 40, 50, 60, 70, 80, 90};
  const int64_t B = 6;
  MixtureSampler single(plan, sizes, {8, "random", 0});
  const auto reference = take(single, static_cast<int>(B * 30));

  std::vector<MixtureDraw> all;
  MixtureSampler r0(plan, sizes, {8, "random", 0}), r1(plan, sizes, {8, "random", 0});
  for (int step = 0; step < 10; ++step) {
    for (auto& d : r0.next_batch(B, 0, 2)) all.push_back(d);
    for (auto& d : r1.next_batch(B, 1, 2)) all.push_back(d);
  }
  const auto saved = nlohmann::json::parse(r1.state().dump());

  MixtureSampler one(plan, sizes, {0, "random", 0});
  one.load_state(saved);
  for (int step = 0; step < 10; ++step)
    for (auto& d : one.next_batch(B, 0, 1)) all.push_back(d);

  std::vector<MixtureSampler> three;
  for (int r = 0; r < 3; ++r) {
    three.emplace_back(plan, sizes, MixtureSamplerOptions{});
    three.back().load_state(one.state());
  }
  for (int step = 0; step < 10; ++step)
    for (int r = 0; r < 3; ++r)
      for (auto& d : three[r].next_batch(B, r, 3)) all.push_back(d);

  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.position < y.position; });
  CHECK(all == reference);
}
