// The loader on data generated here: a LLaVA JSONL with PNGs (one corrupt), a caption tar shard
// and a long-text JSONL; the shared test tokenizer. Shapes, invariants, quarantine, determinism
// across worker counts, exact resume, resume with another rank count (loader_reshard.h), early
// destruction and worker errors.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>

#include "data_pipeline/formats/registry.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/mixture/mixture_plan.h"
#include "data_pipeline/quarantine.h"
#include "tests/data_pipeline/test_formats_util.h"
#include "tests/tokenizer/tokenizer_fixture.h"

using namespace mm::data;
using mm::test::TempDir;
using mm::test::write_file;
using mm::test::write_lines;
using mm::test::write_tar;

namespace {

constexpr int64_t kTile = 32;
constexpr int64_t kTokensPerTile = 4;

std::string png(int h, int w, int seed) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(40 * (seed % 6), 255 - 30 * (seed % 7), 17 * (seed % 13)));
  cv::rectangle(m, cv::Point(w / 4, h / 4), cv::Point(w / 2, h / 2), cv::Scalar(255, 255, 255), -1);
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// The generated dataset, written once per test process.
struct LoaderData {
  TempDir dir;
  std::vector<mm::SourceConfig> sources;
  LoaderData() {
    const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
    const int sizes[][2] = {{64, 96}, {40, 40}, {120, 50}, {30, 200}, {96, 96}, {50, 70}};
    std::vector<std::string> lines;
    for (int i = 0; i < 14; ++i) {
      const std::string a = "img/a" + std::to_string(i) + ".png";
      write_file(dir.file("llava/" + a), png(sizes[i % 6][0], sizes[i % 6][1], i));
      std::string c = colours[i % 6];
      if (i % 4 == 3) {  // two images
        const std::string b = "img/b" + std::to_string(i) + ".png";
        write_file(dir.file("llava/" + b), png(sizes[(i + 2) % 6][0], sizes[(i + 2) % 6][1], i + 5));
        lines.push_back(R"({"id": "conv)" + std::to_string(i) + R"(", "image": [")" + a + R"(", ")" + b +
                        R"("], "conversations": [{"from": "human", "value": "<image> and <image>: which is )" + c +
                        R"(?"}, {"from": "gpt", "value": "The first one is )" + c + R"(."}]})");
      } else {
        lines.push_back(
            R"({"id": "conv)" + std::to_string(i) + R"(", "image": ")" + a +
            R"(", "conversations": [{"from": "human", "value": "<image>\nWhat colour is the square?"}, {"from": "gpt", "value": "A )" +
            c + R"( square."}]})");
      }
    }
    write_file(dir.file("llava/img/broken.png"), "\x89PNG\r\n\x1a\n this is not really a png");
    lines.push_back(
        R"({"id": "corrupt", "image": "img/broken.png", "conversations": [{"from": "human", "value": "<image> what?"}, {"from": "gpt", "value": "A red circle."}]})");
    write_lines(dir.file("llava/conv.jsonl"), lines);

    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < 10; ++i) {
      const std::string key = "cap" + std::to_string(i);
      members.push_back({key + ".png", png(sizes[(i + 1) % 6][0], sizes[(i + 1) % 6][1], 100 + i)});
      members.push_back({key + ".txt", std::string("A ") + colours[i % 6] + " square in the top left."});
    }
    write_tar(dir.file("wds/shard-000.tar"), members);

    std::vector<std::string> texts;
    for (int i = 0; i < 6; ++i) {
      std::string t;
      for (int k = 0; k < 3 + 8 * (i % 3); ++k)
        t += "The quick brown fox jumps over the lazy dog " + std::to_string(k) + ". ";
      texts.push_back(R"({"text": ")" + t + R"("})");
    }
    write_lines(dir.file("text/t.jsonl"), texts);

    sources.push_back(mm::test::source_config("conv", "llava", dir.file("llava/conv.jsonl")));
    sources.push_back(mm::test::source_config("caps", "wds", dir.file("wds/shard-000.tar")));
    sources.push_back(mm::test::source_config("text", "text", dir.file("text/t.jsonl")));
    sources[2].weight = 0.5;
  }
};

const LoaderData& data() {
  static const LoaderData d;
  return d;
}

mm::ImageConfig image_config() {
  mm::ImageConfig c;
  c.tile_size = kTile;
  c.nmin = 1;
  c.nmax = 6;
  return c;
}

mm::LoaderConfig loader_config(int64_t workers) {
  mm::LoaderConfig c;
  c.seq_len = 128;
  c.micro_batch = 3;
  c.workers = workers;
  c.prefetch = 2;
  c.seed = 7;
  return c;
}

std::unique_ptr<Loader> make(const mm::LoaderConfig& cfg, Quarantine* q = nullptr,
                             const nlohmann::json* state = nullptr) {
  return make_loader(data().sources, mm::MixtureConfig{}, image_config(), mm::test::test_tokenizer(), kTokensPerTile,
                     cfg, q, 0, 1, state);
}

void check_same(const Batch& a, const Batch& b) {
  REQUIRE(a.input_ids.sizes() == b.input_ids.sizes());
  CHECK(torch::equal(a.input_ids, b.input_ids));
  CHECK(torch::equal(a.labels, b.labels));
  CHECK(torch::equal(a.positions, b.positions));
  CHECK(torch::equal(a.doc_ids, b.doc_ids));
  REQUIRE(a.tiles.sizes() == b.tiles.sizes());
  CHECK(torch::equal(a.tiles, b.tiles));
  CHECK(torch::equal(a.image_slots, b.image_slots));
  REQUIRE(a.docs.size() == b.docs.size());
  for (size_t i = 0; i < a.docs.size(); ++i) {
    CHECK(a.docs[i].position == b.docs[i].position);
    CHECK(a.docs[i].id == b.docs[i].id);
  }
}

}  // namespace

TEST_CASE("loader batches: shapes, image slots, labels and counts", "[loader]") {
  Quarantine q;
  auto loader = make(loader_config(2), &q);
  const int32_t image_id = mm::test::test_tokenizer().image_id();
  int64_t images_seen = 0;
  std::set<std::string> sources_seen;
  for (int step = 0; step < 12; ++step) {
    const Batch b = loader->next();
    const int64_t B = 3, T = 128;
    REQUIRE(b.input_ids.sizes() == torch::IntArrayRef({B, T}));
    REQUIRE(b.labels.sizes() == torch::IntArrayRef({B, T}));
    REQUIRE(b.positions.sizes() == torch::IntArrayRef({B, T}));
    REQUIRE(b.doc_ids.sizes() == torch::IntArrayRef({B, T}));
    CHECK(b.input_ids.scalar_type() == torch::kInt64);
    const int64_t N = b.tiles.size(0);
    REQUIRE(b.tiles.dim() == 4);
    CHECK(b.tiles.size(1) == 3);
    CHECK(b.tiles.size(2) == kTile);
    CHECK(b.tiles.size(3) == kTile);
    CHECK(torch::isfinite(b.tiles).all().item<bool>());
    // Image tokens: exactly tiles x tokens per tile, all at the listed slots, in increasing order
    // within each tile.
    REQUIRE(b.image_slots.numel() == N * kTokensPerTile);
    CHECK((b.input_ids == image_id).sum().item<int64_t>() == N * kTokensPerTile);
    if (N > 0) {
      CHECK((b.input_ids.flatten().index_select(0, b.image_slots) == image_id).all().item<bool>());
      CHECK((b.labels.flatten().index_select(0, b.image_slots) == -100).all().item<bool>());
    }
    CHECK(b.tiles_per_sample.sum().item<int64_t>() == N);
    // Padding: doc -1, label -100; documents start at position 0; counts agree with the tensors.
    const auto pad = b.doc_ids < 0;
    CHECK((b.labels.masked_select(pad) == -100).all().item<bool>());
    CHECK(b.real_tokens == (~pad).sum().item<int64_t>());
    CHECK(b.loss_tokens == (b.labels != -100).sum().item<int64_t>());
    CHECK(b.loss_tokens > 0);
    int64_t per_source = 0;
    for (const auto& [name, n] : b.source_tokens) per_source += n;
    CHECK(per_source == b.real_tokens);
    auto pos = b.positions.accessor<int64_t, 2>();
    for (const BatchDoc& d : b.docs) {
      CHECK(pos[d.row][d.begin] == 0);
      CHECK(pos[d.row][d.begin + d.length - 1] == d.length - 1);
      sources_seen.insert(d.source);
    }
    images_seen += b.images;
  }
  CHECK(images_seen > 0);
  CHECK(sources_seen == std::set<std::string>{"conv", "caps", "text"});
  CHECK(loader->total_wait_s() >= 0.0);
}

TEST_CASE("loader: a corrupt image is quarantined and the stream goes on", "[loader][quarantine]") {
  Quarantine q;
  auto loader = make(loader_config(2), &q);
  bool found = false;
  std::set<std::string> ids;
  for (int step = 0; step < 40 && !found; ++step) {
    const Batch b = loader->next();
    for (const auto& d : b.docs) ids.insert(d.id);
    for (const auto& e : q.entries()) found = found || (e.id == "corrupt" && e.source == "conv");
  }
  REQUIRE(found);
  CHECK(ids.count("corrupt") == 0);
  const auto entries = q.entries();
  const auto it = std::find_if(entries.begin(), entries.end(), [](const auto& e) { return e.id == "corrupt"; });
  CHECK(it->reason.find("broken.png") != std::string::npos);
  loader->next();  // still running
  // data.max_bad_fraction counts read-time problems too: 1 of the 15 records of conv.
  CHECK_THROWS_WITH(check_bad_fraction(*loader, q, 0.01),
                    "data source 'conv': 1 of 16 records are quarantined (6.2% > data.max_bad_fraction 1.0%); see "
                    "quarantine.jsonl or run `mmtrain data lint`, fix the data or raise data.max_bad_fraction");
  const auto fractions = check_bad_fraction(*loader, q, 0.07);
  REQUIRE(fractions.size() == 3);
  CHECK(fractions[0].first == "conv");
  CHECK(fractions[0].second == Approx(1.0 / 16));
  CHECK(fractions[1].second == 0.0);
}

TEST_CASE("loader: a source that is mostly bad records fails data.max_bad_fraction", "[loader][quarantine]") {
  TempDir dir;
  std::vector<std::string> lines = {R"({"text": "one good line."})", R"({"text": "another good line."})"};
  for (int i = 0; i < 8; ++i) lines.push_back(i % 2 ? R"({"text": )" : R"({"txt": "no text key"})");
  write_lines(dir / "t.jsonl", lines);
  Quarantine q;
  auto loader = make_loader({mm::test::source_config("mostly_bad", "text", dir / "t.jsonl")}, mm::MixtureConfig{},
                            image_config(), mm::test::test_tokenizer(), kTokensPerTile, loader_config(1), &q);
  CHECK(q.size() == 8);
  CHECK_THROWS_WITH(check_bad_fraction(*loader, q, 0.01), Catch::Contains("data source 'mostly_bad': 8 of 10 records "
                                                                          "are quarantined (80.0% > data.max_bad"));
  CHECK(check_bad_fraction(*loader, q, 1.0).at(0).second == Approx(0.8));
  Quarantine none;
  CHECK(check_bad_fraction(*loader, none, 0.0).at(0).second == 0.0);
}

TEST_CASE("loader: batches do not depend on the number of workers", "[loader]") {
  std::vector<Batch> ref;
  {
    auto one = make(loader_config(1));
    for (int i = 0; i < 8; ++i) ref.push_back(one->next());
  }
  for (int64_t workers : {2, 4}) {
    auto many = make(loader_config(workers));
    for (int i = 0; i < 8; ++i) check_same(ref[i], many->next());
  }
}

TEST_CASE("loader: resuming from state() continues identically", "[loader][resume]") {
  for (bool packing : {true, false}) {
    mm::LoaderConfig cfg = loader_config(2);
    cfg.packing = packing;
    std::vector<Batch> ref;
    nlohmann::json state;
    {
      auto a = make(cfg);
      for (int i = 0; i < 10; ++i) {
        ref.push_back(a->next());
        if (i == 3) state = a->state();
      }
    }
    if (packing) CHECK(!state.at("open").empty());  // the carry-over is exercised
    const nlohmann::json reloaded = nlohmann::json::parse(state.dump());
    auto b = make(cfg, nullptr, &reloaded);
    for (int i = 4; i < 10; ++i) check_same(ref[i], b->next());
    if (packing) {  // the carry-over matters: without it the continuation differs
      nlohmann::json dropped = reloaded;
      dropped["open"] = nlohmann::json::array();
      auto c = make(cfg, nullptr, &dropped);
      bool differs = false;
      for (int i = 4; i < 10; ++i) differs = differs || !torch::equal(ref[i].input_ids, c->next().input_ids);
      CHECK(differs);
    }
  }
}

TEST_CASE("loader: destroying it early never hangs", "[loader]") {
  const auto t0 = std::chrono::steady_clock::now();
  { auto never_read = make(loader_config(4)); }
  {
    auto l = make(loader_config(2));
    l->next();
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
}

namespace {
class ThrowingSource : public Source {
 public:
  explicit ThrowingSource(mm::SourceConfig c) : Source(std::move(c)) {}
  size_t size() const override { return 5; }
  RawSample get(size_t) const override { throw std::runtime_error("disk on fire"); }
  size_t index_bytes() const override { return 0; }
};
}  // namespace

TEST_CASE("loader: an error inside a worker surfaces in next()", "[loader]") {
  mm::SourceConfig sc = mm::test::source_config("bad", "text", "unused");
  MixtureSampler sampler(compute_mixture_plan(mm::MixtureConfig{}, {sc}), {5}, MixtureSamplerOptions{});
  SamplePipelineOptions po;
  po.image = image_config();
  po.seq_len = 64;
  mm::LoaderConfig cfg = loader_config(2);
  cfg.seq_len = 64;
  Loader l({std::make_shared<ThrowingSource>(sc)}, std::move(sampler),
           SamplePipeline(mm::tok::SampleEncoder(mm::test::test_tokenizer(), kTokensPerTile), po), cfg);
  CHECK_THROWS_WITH(l.next(), Catch::Contains("disk on fire"));
  CHECK_THROWS_WITH(l.next(), Catch::Contains("disk on fire"));
}

TEST_CASE("sample pipeline: the tile budget shrinks two-image samples to fit", "[loader][budget]") {
  auto src = open_source(data().sources[0]);
  SamplePipelineOptions po;
  po.image = image_config();
  po.seq_len = 60;  // too short for the configured split of two images
  SamplePipeline small(mm::tok::SampleEncoder(mm::test::test_tokenizer(), kTokensPerTile), po);
  po.seq_len = 1024;
  SamplePipeline large(mm::tok::SampleEncoder(mm::test::test_tokenizer(), kTokensPerTile), po);
  const EncodedItem full = large.encode(*src, 3);  // conv3: two images
  const EncodedItem fit = small.encode(*src, 3);
  REQUIRE(full.ok());
  REQUIRE(fit.ok());
  REQUIRE(full.tiles.size() == 2);
  CHECK(fit.budget_steps > 0);
  CHECK(fit.num_tiles() < full.num_tiles());
  CHECK(fit.sample.size() <= 60);
  for (const EncodedItem* e : {&full, &fit}) {
    int64_t image_tokens = 0;
    for (int32_t id : e->sample.input_ids) image_tokens += id == mm::test::test_tokenizer().image_id();
    CHECK(image_tokens == e->num_tiles() * kTokensPerTile);
  }
  po.seq_len = 8;  // nothing fits: quarantined, not thrown
  SamplePipeline tiny(mm::tok::SampleEncoder(mm::test::test_tokenizer(), kTokensPerTile), po);
  const EncodedItem none = tiny.encode(*src, 3);
  REQUIRE(!none.ok());
  CHECK(none.error->id == "conv3");
  CHECK(none.error->reason.find("exceed") != std::string::npos);
}

// ---- Resuming with another number of ranks (loader_reshard.h) ----------------------------------

namespace {

std::unique_ptr<Loader> make_rank(const mm::LoaderConfig& cfg, int rank, int world, const nlohmann::json* state,
                                  ReshardSummary* summary = nullptr) {
  return make_loader(data().sources, mm::MixtureConfig{}, image_config(), mm::test::test_tokenizer(), kTokensPerTile,
                     cfg, nullptr, rank, world, state, summary);
}

// What a run delivered, per stream position: its sample and how many of its tokens (and
// documents: chunks of a long text count one each) reached a batch.
struct Delivered {
  std::string source, id;
  int64_t tokens = 0, docs = 0;
  bool operator==(const Delivered& o) const {
    return source == o.source && id == o.id && tokens == o.tokens && docs == o.docs;
  }
};
using Deliveries = std::map<int64_t, Delivered>;

void record(const Batch& b, Deliveries& out) {
  for (const BatchDoc& d : b.docs) {
    Delivered& e = out[d.position];
    if (e.docs > 0) REQUIRE((e.source == d.source && e.id == d.id));  // one sample per position
    e.source = d.source, e.id = d.id;
    e.tokens += d.length;
    ++e.docs;
  }
}

// The lowest stream position a rank still owes after this state: its next draw, or a document
// of its carry-over. Every position below the minimum over all ranks was delivered in full.
int64_t lowest_owed(const nlohmann::json& st) {
  int64_t low = st.at("sampler").at("position").get<int64_t>() + st.at("rank").get<int64_t>();
  for (const auto& seq : st.at("ready"))
    for (const auto& d : seq) low = std::min(low, d.at("position").get<int64_t>());
  for (const auto& d : st.at("open")) low = std::min(low, d.at("position").get<int64_t>());
  if (st.contains("carry"))
    for (const auto& d : st.at("carry")) low = std::min(low, d.at("position").get<int64_t>());
  return low;
}

// `world` ranks from `state` (null, one state per rank as an array, or old states to reshard),
// `batches` batches each; deliveries go to `out`; returns every rank's final state.
std::vector<nlohmann::json> run_ranks(const mm::LoaderConfig& cfg, int world, int batches, const nlohmann::json* state,
                                      Deliveries& out, ReshardSummary* summary = nullptr) {
  std::vector<nlohmann::json> states;
  for (int r = 0; r < world; ++r) {
    const bool same_world = state && state->is_array() && static_cast<int>(state->size()) == world;
    const nlohmann::json* st = same_world ? &state->at(static_cast<size_t>(r)) : state;
    auto l = make_rank(cfg, r, world, st, summary);
    for (int i = 0; i < batches; ++i) record(l->next(), out);
    states.push_back(nlohmann::json::parse(l->state().dump()));  // through text, as a checkpoint
  }
  return states;
}

int64_t cutoff(const std::vector<nlohmann::json>& states) {
  int64_t c = std::numeric_limits<int64_t>::max();
  for (const auto& s : states) c = std::min(c, lowest_owed(s));
  return c;
}

Deliveries below(const Deliveries& d, int64_t c) {
  Deliveries out;
  for (const auto& [p, e] : d)
    if (p < c) out.emplace(p, e);
  return out;
}

// "" when equal, else the first position where they differ.
std::string diff(const Deliveries& a, const Deliveries& b) {
  auto show = [](const Deliveries& d, int64_t p) {
    const auto it = d.find(p);
    if (it == d.end()) return std::string("nothing");
    return it->second.source + "/" + it->second.id + " " + std::to_string(it->second.tokens) + " tokens in " +
           std::to_string(it->second.docs) + " docs";
  };
  std::set<int64_t> keys;
  for (const auto& kv : a) keys.insert(kv.first);
  for (const auto& kv : b) keys.insert(kv.first);
  for (int64_t p : keys) {
    const auto ia = a.find(p), ib = b.find(p);
    if (ia == a.end() || ib == b.end() || !(ia->second == ib->second))
      return "position " + std::to_string(p) + ": " + show(a, p) + " vs " + show(b, p);
  }
  return "";
}

}  // namespace

TEST_CASE("loader: resuming with another rank count delivers every position once", "[loader][resume][reshard]") {
  mm::LoaderConfig cfg = loader_config(2);
  cfg.packing = GENERATE(true, false);
  INFO("packing " << cfg.packing);
  // Uninterrupted references: 1 rank and 2 ranks, long enough to cover every cutoff below.
  Deliveries ref1, ref2;
  const int64_t c1 = cutoff(run_ranks(cfg, 1, 40, nullptr, ref1));
  const int64_t c2 = cutoff(run_ranks(cfg, 2, 20, nullptr, ref2));
  // Both cover the same global stream: same samples, tokens and chunks per position.
  REQUIRE(diff(below(ref1, std::min(c1, c2)), below(ref2, std::min(c1, c2))) == "");
  // The stream has long texts split over several sequences, and a quarantined sample (a gap).
  bool split = false;
  for (const auto& [p, e] : below(ref1, c1)) split = split || e.docs > 1;
  CHECK(split);
  CHECK(static_cast<int64_t>(below(ref1, c1).size()) < c1);

  struct Case {
    int from_world, to_world, first, second;
  };
  int64_t holes = 0, partial = 0;
  for (const Case& k :
       {Case{2, 1, 3, 8}, Case{2, 1, 5, 8}, Case{2, 3, 4, 4}, Case{1, 2, 5, 5}, Case{3, 2, 2, 8}, Case{2, 1, 7, 9}}) {
    INFO("from " << k.from_world << " ranks x " << k.first << " batches to " << k.to_world << " x " << k.second);
    Deliveries got;
    const std::vector<nlohmann::json> old = run_ranks(cfg, k.from_world, k.first, nullptr, got);
    const nlohmann::json old_json(old);
    ReshardSummary sum;
    const std::vector<nlohmann::json> fin = run_ranks(cfg, k.to_world, k.second, &old_json, got, &sum);
    CHECK(sum.old_world == k.from_world);
    CHECK(sum.new_world == k.to_world);
    CHECK(sum.carried > 0);
    holes += sum.holes, partial += sum.partial;
    const int64_t c = cutoff(fin);
    CHECK(c > sum.resume_position);  // the new ranks went past the carry-over into the stream
    REQUIRE(c <= std::min(c1, c2));
    // No position below the cutoff lost or repeated, no chunk twice; same samples as uninterrupted.
    CHECK(diff(below(got, c), below(ref1, c)) == "");
    CHECK(diff(below(got, c), below(ref2, c)) == "");
    // Above it, nothing delivered twice either.
    for (const auto& [p, e] : got) {
      if (p >= std::min(c1, c2)) continue;
      const auto it = ref1.find(p);
      REQUIRE(it != ref1.end());
      CHECK(e.tokens <= it->second.tokens);
      CHECK(e.docs <= it->second.docs);
    }
  }
  CHECK(holes > 0);    // some old rank lagged behind the furthest one
  CHECK(partial > 0);  // a long text half delivered resumed at its next chunk
}

TEST_CASE("loader: a redistributed state resumes bitwise and redistributes again", "[loader][resume][reshard]") {
  mm::LoaderConfig cfg = loader_config(2);
  cfg.micro_batch = 1;  // batches of one sequence: a batch uses only part of the carry-over
  Deliveries got;
  const nlohmann::json old(run_ranks(cfg, 2, 8, nullptr, got));
  // 2 -> 3 ranks; rank 0 takes one batch, its state still holds carried positions.
  ReshardSummary sum;
  auto a = make_rank(cfg, 0, 3, &old, &sum);
  REQUIRE(sum.carried >= 6);
  record(a->next(), got);
  const nlohmann::json mid = nlohmann::json::parse(a->state().dump());
  REQUIRE(mid.contains("carry"));
  CHECK(mid.at("carry").size() < (sum.carried + 2) / 3);
  std::vector<Batch> cont;
  for (int i = 0; i < 6; ++i) cont.push_back(a->next());
  auto b = make_rank(cfg, 0, 3, &mid);  // same-world resume in the middle of the carry-over
  for (int i = 0; i < 6; ++i) check_same(cont[i], b->next());
  CHECK(b->state() == a->state());

  // 2 -> 3 (ranks 1 and 2 one batch each) -> 1: the carry left in the 3-rank states is owed too.
  std::vector<nlohmann::json> three = {mid};
  for (int r = 1; r < 3; ++r) {
    auto l = make_rank(cfg, r, 3, &old);
    record(l->next(), got);
    three.push_back(nlohmann::json::parse(l->state().dump()));
  }
  const nlohmann::json three_json(three);
  ReshardSummary again;
  const std::vector<nlohmann::json> fin = run_ranks(cfg, 1, 30, &three_json, got, &again);
  CHECK(again.old_world == 3);
  CHECK(again.carried > 0);
  Deliveries ref;
  const int64_t cref = cutoff(run_ranks(cfg, 1, 100, nullptr, ref));
  const int64_t c = cutoff(fin);
  CHECK(c > again.resume_position);
  REQUIRE(c <= cref);
  CHECK(diff(below(got, c), below(ref, c)) == "");
}

TEST_CASE("loader: inconsistent states are refused with one line", "[loader][reshard]") {
  mm::LoaderConfig cfg = loader_config(1);
  Deliveries got;
  std::vector<nlohmann::json> old = run_ranks(cfg, 2, 2, nullptr, got);
  {
    nlohmann::json swapped = nlohmann::json::array({old[1], old[0]});
    CHECK_THROWS_WITH(make_rank(cfg, 0, 1, &swapped),
                      Catch::Contains("loader state 0 of 2: saved by rank 1 of 2 (expected rank 0 of 2)"));
  }
  {
    nlohmann::json twice = nlohmann::json::array({old[0], old[1]});  // rank 1 claims rank 0's carry-over
    twice[1]["ready"] = old[0].at("ready");
    twice[1]["open"] = old[0].at("open");
    REQUIRE(!old[0].at("open").empty());
    CHECK_THROWS_WITH(make_rank(cfg, 0, 1, &twice), Catch::Contains("is owed twice or with a gap"));
  }
  {
    nlohmann::json other = nlohmann::json::array({old[0], old[1]});
    other[1]["seq_len"] = 64;
    CHECK_THROWS_WITH(make_rank(cfg, 0, 3, &other),
                      Catch::Contains("loader state of rank 1: seq_len 64 differs from rank 0's 128"));
  }
}
