// The loader on data generated here: a LLaVA JSONL with PNGs (one corrupt), a caption tar shard
// and a long-text JSONL; the shared test tokenizer. Shapes, invariants, quarantine, determinism
// across worker counts, exact resume, early destruction and worker errors.
#include <catch2/catch.hpp>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
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
      write_file(dir / ("llava/" + a), png(sizes[i % 6][0], sizes[i % 6][1], i));
      std::string c = colours[i % 6];
      if (i % 4 == 3) {  // two images
        const std::string b = "img/b" + std::to_string(i) + ".png";
        write_file(dir / ("llava/" + b), png(sizes[(i + 2) % 6][0], sizes[(i + 2) % 6][1], i + 5));
        lines.push_back(R"({"id": "conv)" + std::to_string(i) + R"(", "image": [")" + a + R"(", ")" + b +
                        R"("], "conversations": [{"from": "human", "value": "<image> and <image>: which is )" + c +
                        R"(?"}, {"from": "gpt", "value": "The first one is )" + c + R"(."}]})");
      } else {
        lines.push_back(R"({"id": "conv)" + std::to_string(i) + R"(", "image": ")" + a +
                        R"(", "conversations": [{"from": "human", "value": "<image>\nWhat colour is the square?"}, {"from": "gpt", "value": "A )" +
                        c + R"( square."}]})");
      }
    }
    write_file(dir / "llava/img/broken.png", "\x89PNG\r\n\x1a\n this is not really a png");
    lines.push_back(R"({"id": "corrupt", "image": "img/broken.png", "conversations": [{"from": "human", "value": "<image> what?"}, {"from": "gpt", "value": "A red circle."}]})");
    write_lines(dir / "llava/conv.jsonl", lines);

    std::vector<std::pair<std::string, std::string>> members;
    for (int i = 0; i < 10; ++i) {
      const std::string key = "cap" + std::to_string(i);
      members.push_back({key + ".png", png(sizes[(i + 1) % 6][0], sizes[(i + 1) % 6][1], 100 + i)});
      members.push_back({key + ".txt", std::string("A ") + colours[i % 6] + " square in the top left."});
    }
    write_tar(dir / "wds/shard-000.tar", members);

    std::vector<std::string> texts;
    for (int i = 0; i < 6; ++i) {
      std::string t;
      for (int k = 0; k < 3 + 8 * (i % 3); ++k) t += "The quick brown fox jumps over the lazy dog " + std::to_string(k) + ". ";
      texts.push_back(R"({"text": ")" + t + R"("})");
    }
    write_lines(dir / "text/t.jsonl", texts);

    sources.push_back(mm::test::source_config("conv", "llava", dir / "llava/conv.jsonl"));
    sources.push_back(mm::test::source_config("caps", "wds", dir / "wds/shard-000.tar"));
    sources.push_back(mm::test::source_config("text", "text", dir / "text/t.jsonl"));
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

std::unique_ptr<Loader> make(const mm::LoaderConfig& cfg, Quarantine* q = nullptr, const nlohmann::json* state = nullptr) {
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
