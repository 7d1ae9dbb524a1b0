// Tests of tile budgeting: nmax lowered step by step, then single tile, then rejection; image
// tokens never cut; template errors become reasons.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "core/timer.h"
#include "data_pipeline/packing/packer.h"
#include "data_pipeline/packing/tile_budget.h"
#include "tests/tokenizer/tokenizer_fixture.h"

using mm::data::BudgetOptions;
using mm::data::RawSample;
using mm::data::Role;
using mm::data::TileRequest;
using mm::tok::ImageLayout;

namespace {

RawSample one_image_sample() {
  RawSample s;
  s.turns = {{Role::User, "<image>\nWhat is written here?"}, {Role::Assistant, "total: 42"}};
  s.images.resize(1);
  return s;
}

// A splitter stand-in: for nmax, a 1 x nmax grid plus overview (index indicators); single tile
// for the fallback. Records every request.
struct FakeSplitter {
  std::vector<TileRequest> requests;
  int64_t images = 1;
  std::vector<ImageLayout> operator()(const TileRequest& r) {
    requests.push_back(r);
    std::vector<ImageLayout> out;
    for (int64_t k = 0; k < images; ++k) {
      out.push_back(
          r.single_tile
              ? mm::tok::make_image_layout(mm::TokenizerConfig{}, mm::tok::Indicators::Index, k, 0, 0, true)
              : mm::tok::make_image_layout(mm::TokenizerConfig{}, mm::tok::Indicators::Index, k, 1, r.nmax, true));
    }
    return out;
  }
};

int64_t count_id(const std::vector<int32_t>& ids, int32_t id) { return std::count(ids.begin(), ids.end(), id); }

}  // namespace

TEST_CASE("tile budget lowers nmax step by step, then single tile, then rejects", "[packing][budget]") {
  const mm::tok::SampleEncoder enc(mm::test::test_tokenizer(), 4);
  const RawSample s = one_image_sample();
  const auto t = enc.templated(s);
  FakeSplitter probe;
  auto len_at = [&](const TileRequest& r) { return enc.length(t, probe(r)); };
  const int64_t len9 = len_at({9, false}), len7 = len_at({7, false}), len4 = len_at({4, false});
  const int64_t len1 = len_at({1, true});
  REQUIRE(len9 > len7);
  REQUIRE(len4 > len1);

  BudgetOptions opts;
  opts.nmin = 4;
  opts.nmax = 9;

  SECTION("fits at once") {
    FakeSplitter sp;
    opts.max_len = len9;
    const auto r = mm::data::encode_with_tile_budget(enc, s, std::ref(sp), opts);
    REQUIRE(r.ok());
    CHECK_FALSE(r.reduced());
    CHECK(r.used.nmax == 9);
    CHECK(r.sample.size() == len9);
    CHECK(r.sample.tiles() == 10);
  }
  SECTION("nmax lowered to the first that fits") {
    FakeSplitter sp;
    opts.max_len = len7;
    const auto r = mm::data::encode_with_tile_budget(enc, s, std::ref(sp), opts);
    REQUIRE(r.ok());
    REQUIRE(r.tried.size() == 3);
    CHECK(r.tried[0].nmax == 9);
    CHECK(r.tried[1].nmax == 8);
    CHECK(r.tried[2].nmax == 7);
    CHECK(r.used.nmax == 7);
    CHECK_FALSE(r.used.single_tile);
    CHECK(r.sample.size() == len7);
    CHECK(r.sample.tiles() == 8);
    // Image tokens are never cut: every tile has all its slots.
    CHECK(count_id(r.sample.input_ids, enc.tokenizer().image_id()) == 8 * 4);
  }
  SECTION("below nmin comes the single tile") {
    FakeSplitter sp;
    opts.max_len = len4 - 1;
    const auto r = mm::data::encode_with_tile_budget(enc, s, std::ref(sp), opts);
    REQUIRE(r.ok());
    REQUIRE(r.tried.size() == 7);  // 9, 8, 7, 6, 5, 4, single
    CHECK(r.tried[5].nmax == 4);
    CHECK(r.tried[6].single_tile);
    CHECK(r.used.single_tile);
    CHECK(r.sample.tiles() == 1);
    CHECK(r.sample.size() == len1);
    CHECK(count_id(r.sample.input_ids, enc.tokenizer().image_id()) == 4);
  }
  SECTION("rejected when even one tile does not fit") {
    FakeSplitter sp;
    opts.max_len = len1 - 1;
    const auto r = mm::data::encode_with_tile_budget(enc, s, std::ref(sp), opts);
    CHECK_FALSE(r.ok());
    CHECK(r.tried.size() == 7);
    CHECK_THAT(r.reason, Catch::Contains(std::to_string(len1) + " tokens with single tile exceed the sequence length " +
                                         std::to_string(len1 - 1)) &&
                             Catch::Contains("never cut"));
  }
  SECTION("without the single-tile fallback it stops at nmin") {
    FakeSplitter sp;
    opts.max_len = len4 - 1;
    opts.single_tile_fallback = false;
    const auto r = mm::data::encode_with_tile_budget(enc, s, std::ref(sp), opts);
    CHECK_FALSE(r.ok());
    CHECK(r.tried.size() == 6);
    CHECK_THAT(r.reason, Catch::Contains("nmax=4"));
  }
}

TEST_CASE("tile budget: template errors and loss-less samples become reasons, text is not budgeted",
          "[packing][budget]") {
  const mm::tok::SampleEncoder enc(mm::test::test_tokenizer(), 4);
  FakeSplitter sp;
  BudgetOptions opts;
  opts.max_len = 10000;
  RawSample bad = one_image_sample();
  bad.images.resize(2);
  sp.images = 2;
  auto r = mm::data::encode_with_tile_budget(enc, bad, std::ref(sp), opts);
  CHECK(r.reason == "1 <image> placeholder(s) but 2 image(s)");

  RawSample no_answer;
  no_answer.turns = {{Role::User, "Hello?"}};
  r = mm::data::encode_with_tile_budget(enc, no_answer, std::ref(sp), opts);
  CHECK_THAT(r.reason, Catch::Contains("no token carries loss"));

  RawSample text;
  text.turns = {{Role::Text, "A red circle in the top left. A blue star in the center."}};
  opts.max_len = 5;
  r = mm::data::encode_with_tile_budget(enc, text, std::ref(sp), opts);
  CHECK(r.ok());  // the packer splits long text-only samples
  CHECK(r.sample.size() > 5);
  CHECK(r.tried.empty());
  opts.split_long_text = false;
  r = mm::data::encode_with_tile_budget(enc, text, std::ref(sp), opts);
  CHECK_THAT(r.reason, Catch::Contains("text-only sample of") && Catch::Contains("exceeds the sequence length 5"));
}

// Not part of the suite (hidden tag): throughput of template + expansion + budgeting and the
// packing efficiency on a caption / SFT / text-only mix at paper-like sizes (M = 144, L = 4096).
// Run: test_packing "[bench]"
TEST_CASE("tokenize, budget and pack throughput", "[.][bench]") {
  const mm::tok::SampleEncoder enc(mm::test::test_tokenizer(), 144);
  std::mt19937 rng(7);
  std::vector<RawSample> raws;
  const std::string words = "A red circle in the top left next to a blue star. total: 42, date: 2024-01-10. ";
  for (int i = 0; i < 3000; ++i) {
    RawSample s;
    const int kind = static_cast<int>(rng() % 10);  // 5 caption : 3 SFT : 2 text-only
    if (kind < 5) {
      s.turns = {{Role::Text, "<image>" + words.substr(0, 20 + rng() % 60)}};
      s.images.resize(1);
    } else if (kind < 8) {
      s.turns = {{Role::User, "<image>\nWhat is written here?"}, {Role::Assistant, words}};
      s.images.resize(1);
    } else {
      std::string t;
      for (int r = 1 + static_cast<int>(rng() % 60); r > 0; --r) t += words;
      s.turns = {{Role::Text, t}};
    }
    raws.push_back(std::move(s));
  }
  BudgetOptions opts;
  opts.max_len = 4096;
  std::vector<mm::tok::EncodedSample> encoded;
  const mm::Stopwatch watch;
  for (const auto& s : raws) {
    FakeSplitter sp;
    const int64_t nmax = 4 + static_cast<int64_t>(rng() % 6);
    auto cb = [&](const TileRequest& r) {
      TileRequest q = r;
      q.nmax = std::min(r.nmax, nmax);
      return sp(q);
    };
    const auto r = mm::data::encode_with_tile_budget(enc, s, cb, opts);
    REQUIRE(r.ok());
    encoded.push_back(r.sample);
  }
  const double secs = watch.seconds();
  int64_t tokens = 0;
  for (const auto& e : encoded) tokens += e.size();
  WARN("encode+budget: " << raws.size() / secs << " samples/s, " << tokens / secs / 1e6 << " M tokens/s");
  for (int64_t open : {1, 4, 16}) {
    mm::data::PackOptions po;
    po.seq_len = 4096;
    po.open_sequences = open;
    mm::data::PackStats st;
    const mm::Stopwatch pack_watch;
    mm::data::pack_samples(encoded, po, &st);
    const double ps = pack_watch.seconds();
    WARN("pack open_sequences=" << open << ": efficiency " << st.efficiency() << ", " << st.sequences << " sequences, "
                                << tokens / ps / 1e6 << " M tokens/s");
  }
}
