// Tests of greedy packing: positions reset per document, document ids, padding, images never
// split, every token accounted for, efficiency, text-only chunking, determinism.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "data_pipeline/packing/packer.h"

using mm::data::PackOptions;
using mm::data::PackStats;
using mm::tok::EncodedSample;
using mm::tok::kIgnoreIndex;

namespace {

constexpr int32_t kImageId = 7;
constexpr int32_t kPad = 3;

// A sample of `len` tokens; ids encode (sample, position) so every token can be traced; loss on
// every other token; `images` images of `tiles` tiles x 2 slots, one marker token before each tile.
EncodedSample make_sample(int64_t tag, int64_t len, int images = 0, int tiles = 1) {
  EncodedSample e;
  e.tokens_per_tile = 2;
  for (int64_t t = 0; t < len; ++t) {
    e.input_ids.push_back(static_cast<int32_t>(100000 * (tag + 1) + t));
  }
  int64_t pos = 1;
  for (int k = 0; k < images; ++k) {
    mm::tok::ImageSlots s;
    s.begin = pos;
    for (int j = 0; j < tiles; ++j) {
      ++pos;  // marker
      s.tile_starts.push_back(pos);
      e.input_ids[pos] = kImageId;
      e.input_ids[pos + 1] = kImageId;
      pos += 2;
    }
    s.end = pos;
    e.image_slots.push_back(s);
    pos += 1;
  }
  REQUIRE(pos <= len);
  for (int64_t t = 0; t < len; ++t) {
    const bool in_image = e.input_ids[t] == kImageId;
    e.labels.push_back(t % 2 == 1 && !in_image ? e.input_ids[t] : kIgnoreIndex);
  }
  return e;
}

// Every invariant of a packing result against its inputs.
void check_packing(const std::vector<EncodedSample>& samples, const std::vector<mm::data::PackedSequence>& seqs,
                   const PackStats& stats, int64_t L, const std::vector<int64_t>& accepted) {
  std::map<int64_t, std::vector<int32_t>> ids_of, labels_of;  // per accepted sample, rebuilt from chunks
  std::map<int64_t, int64_t> next_chunk;
  std::map<std::pair<int64_t, int64_t>, int> images_seen;
  int64_t real = 0;
  for (const auto& q : seqs) {
    REQUIRE(static_cast<int64_t>(q.input_ids.size()) == L);
    REQUIRE(q.labels.size() == q.input_ids.size());
    REQUIRE(q.positions.size() == q.input_ids.size());
    REQUIRE(q.doc_ids.size() == q.input_ids.size());
    int64_t t = 0;
    for (size_t d = 0; d < q.docs.size(); ++d) {
      const auto& doc = q.docs[d];
      CHECK(doc.begin == t);
      CHECK(doc.chunk == next_chunk[doc.sample]++);  // chunks arrive in order
      for (int64_t i = 0; i < doc.length; ++i, ++t) {
        CHECK(q.positions[t] == i);
        CHECK(q.doc_ids[t] == static_cast<int32_t>(d));
        ids_of[doc.sample].push_back(q.input_ids[t]);
        labels_of[doc.sample].push_back(q.labels[t]);
        if (i == 0) CHECK(q.labels[t] == kIgnoreIndex);
      }
    }
    CHECK(t == q.used);
    real += t;
    for (; t < L; ++t) {
      CHECK(q.input_ids[t] == kPad);
      CHECK(q.labels[t] == kIgnoreIndex);
      CHECK(q.doc_ids[t] == -1);
      CHECK(q.positions[t] == 0);
    }
    for (const auto& im : q.images) {
      ++images_seen[{im.sample, im.image}];
      // The whole image lies inside one document of this sequence.
      const int32_t doc = q.doc_ids[im.begin];
      REQUIRE(doc >= 0);
      CHECK(q.docs[doc].sample == im.sample);
      CHECK(im.end <= q.docs[doc].begin + q.docs[doc].length);
      const auto& orig = samples[accepted[im.sample]].image_slots[im.image];
      CHECK(im.end - im.begin == orig.end - orig.begin);
      REQUIRE(im.tile_starts.size() == orig.tile_starts.size());
      for (size_t j = 0; j < im.tile_starts.size(); ++j) {
        CHECK(im.tile_starts[j] - im.begin == orig.tile_starts[j] - orig.begin);
        CHECK(q.input_ids[im.tile_starts[j]] == kImageId);
        CHECK(q.input_ids[im.tile_starts[j] + 1] == kImageId);
      }
    }
  }
  // All tokens of every accepted sample, in order, exactly once; labels kept except doc starts.
  REQUIRE(ids_of.size() == accepted.size());
  for (size_t i = 0; i < accepted.size(); ++i) {
    const auto& orig = samples[accepted[i]];
    CHECK(ids_of[i] == orig.input_ids);
    for (size_t t = 0; t < orig.labels.size(); ++t) {
      if (labels_of[i][t] != orig.labels[t]) CHECK(labels_of[i][t] == kIgnoreIndex);
    }
    for (size_t k = 0; k < orig.image_slots.size(); ++k) CHECK(images_seen[{int64_t(i), int64_t(k)}] == 1);
  }
  CHECK(stats.sequences == static_cast<int64_t>(seqs.size()));
  CHECK(stats.capacity == L * stats.sequences);
  CHECK(stats.real_tokens == real);
  CHECK(stats.efficiency() == Approx(double(real) / double(L * seqs.size())));
}

}  // namespace

TEST_CASE("packing: positions reset, document ids, padding, first token of a document unlabelled", "[packing]") {
  PackOptions opts;
  opts.seq_len = 8;
  opts.pad_id = kPad;
  PackStats stats;
  const std::vector<EncodedSample> samples = {make_sample(0, 3), make_sample(1, 4)};
  const auto seqs = mm::data::pack_samples(samples, opts, &stats);
  REQUIRE(seqs.size() == 1);
  CHECK(seqs[0].positions == std::vector<int32_t>{0, 1, 2, 0, 1, 2, 3, 0});
  CHECK(seqs[0].doc_ids == std::vector<int32_t>{0, 0, 0, 1, 1, 1, 1, -1});
  CHECK(seqs[0].input_ids[7] == kPad);
  CHECK(seqs[0].labels == std::vector<int32_t>{kIgnoreIndex, 100001, kIgnoreIndex, kIgnoreIndex, 200001, kIgnoreIndex,
                                               200003, kIgnoreIndex});
  CHECK(stats.efficiency() == Approx(7.0 / 8.0));
  check_packing(samples, seqs, stats, 8, {0, 1});
}

TEST_CASE("packing: first-fit over open sequences beats next-fit on a crafted order", "[packing]") {
  const std::vector<EncodedSample> samples = {make_sample(0, 6), make_sample(1, 6), make_sample(2, 4),
                                              make_sample(3, 4)};
  PackOptions opts;
  opts.seq_len = 10;
  opts.pad_id = kPad;
  PackStats next_fit, first_fit;
  opts.open_sequences = 1;
  const auto a = mm::data::pack_samples(samples, opts, &next_fit);
  opts.open_sequences = 2;
  const auto b = mm::data::pack_samples(samples, opts, &first_fit);
  CHECK(a.size() == 3);  // [6] [6 4] [4]
  CHECK(b.size() == 2);  // [6 4] [6 4]
  CHECK(next_fit.efficiency() == Approx(20.0 / 30.0));
  CHECK(first_fit.efficiency() == Approx(1.0));
  check_packing(samples, a, next_fit, 10, {0, 1, 2, 3});
  check_packing(samples, b, first_fit, 10, {0, 1, 2, 3});
}

TEST_CASE("packing: long text-only samples become L-token chunks, long image samples are rejected", "[packing]") {
  PackOptions opts;
  opts.seq_len = 10;
  opts.pad_id = kPad;
  const std::vector<EncodedSample> samples = {make_sample(0, 25), make_sample(1, 12, 1, 3), make_sample(2, 5, 1, 1)};
  PackStats stats;
  std::vector<std::pair<int64_t, std::string>> rejected;
  const auto seqs = mm::data::pack_samples(samples, opts, &stats, &rejected);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].first == 1);
  CHECK_THAT(rejected[0].second, Catch::Contains("12 tokens with 1 image(s) exceed the sequence length 10") &&
                                     Catch::Contains("never cut"));
  CHECK(stats.rejected == 1);
  CHECK(stats.samples == 2);
  CHECK(stats.docs == 4);  // 3 chunks + 1 sample
  REQUIRE(seqs.size() == 3);
  CHECK(seqs[0].docs.size() == 1);
  CHECK(seqs[0].docs[0].chunk == 0);
  CHECK(seqs[1].docs[0].chunk == 1);
  CHECK(seqs[2].docs[0].chunk == 2);  // the 5-token rest shares a sequence with sample 2
  CHECK(seqs[2].used == 10);
  CHECK(seqs[2].docs[0].length == 5);
  CHECK(seqs[2].docs[1].sample == 1);  // index in add() order: the second accepted sample
  check_packing(samples, seqs, stats, 10, {0, 2});

  opts.split_long_text = false;
  rejected.clear();
  mm::data::pack_samples(samples, opts, &stats, &rejected);
  REQUIRE(rejected.size() == 2);
  CHECK_THAT(rejected[0].second, Catch::Contains("text-only sample of 25 tokens"));
}

TEST_CASE("packing invariants hold on a random mix and the result is deterministic", "[packing]") {
  std::mt19937 rng(1234);
  std::vector<EncodedSample> samples;
  std::vector<int64_t> accepted;
  const int64_t L = 64;
  for (int i = 0; i < 300; ++i) {
    const int images = static_cast<int>(rng() % 3);
    const int tiles = 1 + static_cast<int>(rng() % 4);
    const int64_t min_len = 2 + images * (tiles * 3 + 1);
    const int64_t len = min_len + static_cast<int64_t>(rng() % (images ? 40 : 150));
    samples.push_back(make_sample(i, len, images, tiles));
    if (!(images > 0 && len > L)) accepted.push_back(i);
  }
  for (int64_t open : {1, 4}) {
    PackOptions opts;
    opts.seq_len = L;
    opts.pad_id = kPad;
    opts.open_sequences = open;
    PackStats stats, stats2;
    std::vector<std::pair<int64_t, std::string>> rejected;
    const auto seqs = mm::data::pack_samples(samples, opts, &stats, &rejected);
    CHECK(static_cast<int64_t>(rejected.size()) == static_cast<int64_t>(samples.size() - accepted.size()));
    check_packing(samples, seqs, stats, L, accepted);
    CHECK(stats.efficiency() > 0.5);
    const auto again = mm::data::pack_samples(samples, opts, &stats2);
    REQUIRE(again.size() == seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      CHECK(again[i].input_ids == seqs[i].input_ids);
      CHECK(again[i].labels == seqs[i].labels);
      CHECK(again[i].doc_ids == seqs[i].doc_ids);
    }
  }
}

TEST_CASE("streaming packer emits full sequences early and the rest on flush", "[packing]") {
  PackOptions opts;
  opts.seq_len = 10;
  opts.pad_id = kPad;
  opts.open_sequences = 2;
  mm::data::Packer p(opts);
  CHECK(p.add(make_sample(0, 6)) == 0);
  CHECK(p.add(make_sample(1, 4)) == 1);  // fills the first sequence exactly
  auto ready = p.take();
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].used == 10);
  CHECK(p.add(make_sample(2, 3)) == 2);
  CHECK(p.take().empty());
  std::string why;
  CHECK(p.add(EncodedSample{}, &why) == -1);
  CHECK(why == "empty sample");
  p.flush();
  ready = p.take();
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].used == 3);
  CHECK(p.stats().efficiency() == Approx(13.0 / 20.0));
  CHECK_THROWS_WITH(mm::data::Packer(PackOptions{}), Catch::Contains("sequence length must be positive"));
}
