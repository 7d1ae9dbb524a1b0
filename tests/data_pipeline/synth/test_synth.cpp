// Tests of the synthetic world: same seed -> same bytes (any thread count), counts, every file
// parsed as its format says (and opened by the real readers), boxes that match the drawn
// shapes, held-out eval sets disjoint from training, unusual aspect ratios, shape and glyph sizes,
// the tokenizer.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/config/config.h"
#include "core/config/mixture_config.h"
#include "core/config/run_config.h"
#include "core/config/tokenizer_config.h"
#include "core/io.h"
#include "data_pipeline/formats/registry.h"
#include "data_pipeline/mixture/mixture_plan.h"
#include "data_pipeline/sample.h"
#include "data_pipeline/synth/scene.h"
#include "data_pipeline/synth/synth_world.h"
#include "data_pipeline/synth/tasks.h"
#include "tokenizer/tokenizer.h"

using namespace mm;
using namespace mm::data;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

SynthConfig tiny_config() {
  SynthConfig c;
  c.counts.caption = 12;
  c.counts.interleaved = 4;
  c.counts.text = 10;
  c.counts.ocr = 6;
  c.counts.general = 12;
  c.counts.text_rich = 16;
  c.counts.refer_ground = 24;
  c.counts.knowledge = 12;
  c.counts.multi_image = 10;
  c.counts.text_only = 40;
  c.counts.eval = 16;
  c.shard_size = 5;
  c.tokenizer = false;
  return c;
}

fs::path fresh_dir(const std::string& name) {
  // The pid keeps ctest's parallel processes (one per TEST_CASE) out of each other's folders.
  fs::path d = fs::temp_directory_path() / ("mm_test_synth_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// relative path -> file bytes hash (std::hash is enough to compare two trees in one process)
std::map<std::string, size_t> tree_hashes(const fs::path& root) {
  std::map<std::string, size_t> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = std::hash<std::string>{}(read_all(e.path()));
  return out;
}

std::vector<Json> read_jsonl(const fs::path& p) {
  std::vector<Json> out;
  std::ifstream f(p);
  REQUIRE(f.good());
  for (std::string line; std::getline(f, line);) out.push_back(Json::parse(line));  // throws on bad JSON
  return out;
}

int placeholders(const std::string& s) {
  int n = 0;
  for (size_t p = s.find("<image>"); p != std::string::npos; p = s.find("<image>", p + 1)) ++n;
  return n;
}

cv::Mat load_image(const fs::path& p) {
  cv::Mat m = cv::imread(p.string(), cv::IMREAD_COLOR);
  INFO(p.string());
  REQUIRE(!m.empty());
  return m;
}

// The world written once for the read-only tests.
const fs::path& shared_world() {
  static const fs::path dir = [] {
    fs::path d = fresh_dir("shared");
    synth::write_synthetic_world(tiny_config(), d.string());
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("same seed gives identical bytes whatever the thread count, another seed differs", "[synth]") {
  const fs::path d = fresh_dir("det");
  auto cfg = tiny_config();
  synth::write_synthetic_world(cfg, d.string());
  const auto first = tree_hashes(d);
  fs::remove_all(d);
  cfg.threads = 3;
  synth::write_synthetic_world(cfg, d.string());
  CHECK(tree_hashes(d) == first);
  CHECK(first.size() > 100);

  fs::remove_all(d);
  cfg.seed += 1;
  synth::write_synthetic_world(cfg, d.string());
  const auto other = tree_hashes(d);
  int same = 0;
  for (const auto& [path, h] : other)
    if (first.count(path) && first.at(path) == h && path.find(".png") != std::string::npos) ++same;
  CHECK(same < 5);  // a few one-shape scenes may coincide; the rest differ
  fs::remove_all(d);
}

TEST_CASE("counts per set and files on disk", "[synth]") {
  const fs::path& d = shared_world();
  const auto c = tiny_config().counts;
  CHECK(read_jsonl(d / "pretrain/interleaved.jsonl").size() == 4);
  CHECK(read_jsonl(d / "pretrain/text.jsonl").size() == 10);
  for (const char* k : {"docs", "receipts", "strips", "signs"})
    CHECK(read_jsonl(d / "ocr" / (std::string(k) + ".jsonl")).size() == 6);
  CHECK(read_jsonl(d / "sft/general.jsonl").size() == 12);
  CHECK(read_jsonl(d / "sft/text_only.jsonl").size() == 40);
  CHECK(read_jsonl(d / "eval/grounding.jsonl").size() == static_cast<size_t>(c.eval));
  int shards = 0;
  for (const auto& e : fs::directory_iterator(d / "pretrain")) shards += e.path().extension() == ".tar";
  CHECK(shards == 3);  // 12 samples, 5 per shard
  CHECK(fs::exists(d / "README.md"));
  CHECK(read_all(d / "README.md").find("sft/refer_ground.jsonl") != std::string::npos);
  CHECK(fs::exists(d / "common.yaml"));
  CHECK(fs::exists(d / "stages/sft.yaml"));
}

TEST_CASE("counts_scale multiplies the training counts, keeps eval, and keeps the first samples", "[synth]") {
  SynthCountsConfig base = tiny_config().counts;
  base.knowledge = 0;  // a switched-off set stays off
  const auto half = base.scaled(0.5), tiny = base.scaled(0.01);
  CHECK(half.caption == 6);
  CHECK(half.ocr == 3);
  CHECK(half.text_only == 20);
  CHECK(half.knowledge == 0);
  CHECK(half.eval == base.eval);
  CHECK(tiny.general == 1);  // rounded, at least 1 where it was not 0
  CHECK(tiny.knowledge == 0);

  const fs::path d = fresh_dir("scaled");
  auto cfg = tiny_config();
  cfg.counts_scale = 2.0;
  synth::write_synthetic_world(cfg, d.string());
  const auto big = read_jsonl(d / "sft/general.jsonl");
  CHECK(big.size() == 24);
  CHECK(read_jsonl(d / "ocr/signs.jsonl").size() == 12);
  CHECK(read_jsonl(d / "eval/grounding.jsonl").size() == static_cast<size_t>(cfg.counts.eval));
  // Sample i depends only on (seed, set, i): the larger world starts with the smaller one.
  const auto small = read_jsonl(shared_world() / "sft/general.jsonl");
  REQUIRE(small.size() == 12);
  for (size_t i = 0; i < small.size(); ++i) CHECK(big[i] == small[i]);
  CHECK(read_all(d / "eval/grounding.jsonl") == read_all(shared_world() / "eval/grounding.jsonl"));
  fs::remove_all(d);
}

TEST_CASE("every source opens with the real readers, with no quarantined record", "[synth]") {
  const fs::path& d = shared_world();
  struct S {
    const char* name;
    const char* format;
    std::string path;
    size_t n;
  };
  const std::vector<S> sources = {
      {"caps", "wds", (d / "pretrain/captions-*.tar").string(), 12},
      {"inter", "interleaved", (d / "pretrain/interleaved.jsonl").string(), 4},
      {"text", "text", (d / "pretrain/text.jsonl").string(), 10},
      {"receipts", "captions", (d / "ocr/receipts.jsonl").string(), 6},
      {"general", "llava", (d / "sft/general.jsonl").string(), 12},
      {"ground", "llava", (d / "sft/refer_ground.jsonl").string(), 24},
      {"multi", "llava", (d / "sft/multi_image.jsonl").string(), 10},
      {"tonly", "llava", (d / "sft/text_only.jsonl").string(), 40},
  };
  for (const auto& s : sources) {
    INFO(s.name);
    SourceConfig cfg;
    cfg.name = s.name;
    cfg.format = s.format;
    cfg.path = s.path;
    auto src = open_source(cfg);
    CHECK(src->open_issues().empty());
    REQUIRE(src->size() == s.n);
    for (size_t i = 0; i < src->size(); ++i) {
      const RawSample r = src->get(i);
      CHECK(count_image_placeholders(r) == static_cast<int64_t>(r.images.size()));
      CHECK(!r.turns.empty());
    }
  }
}

TEST_CASE("the stage fragments load as run configs whose mixtures have the paper's shape", "[synth]") {
  const fs::path& d = shared_world();
  const RunConfig pre_cfg = load_run_config((d / "stages/pretrain.yaml").string());
  const RunConfig ocr_cfg = load_run_config((d / "stages/ocr.yaml").string());
  const RunConfig sft_cfg = load_run_config((d / "stages/sft.yaml").string());
  const RunConfig common = load_run_config((d / "common.yaml").string());
  REQUIRE(pre_cfg.data.sources.size() == 3);
  REQUIRE(ocr_cfg.data.sources.size() == 4);
  REQUIRE(sft_cfg.data.sources.size() == 6);
  CHECK(common.eval.sets.size() == 10);
  for (const auto& p : common.eval.sets) CHECK(fs::exists(p));
  CHECK(common.tokenizer.model_path.empty());  // tiny_config() trains no tokenizer
  for (const auto& s : sft_cfg.data.sources) CHECK(fs::exists(s.path));
  const auto pre = compute_mixture_plan(pre_cfg.data.mixture, pre_cfg.data.sources);
  CHECK(pre.category_share("caption") == Approx(0.5));
  CHECK(pre.category_share("text") == Approx(0.4));
  const auto sft = compute_mixture_plan(sft_cfg.data.mixture, sft_cfg.data.sources);
  CHECK(sft.category_share("general") == Approx(0.8 / 7.1));
  CHECK(sft.category_share("text-rich") == Approx(0.8 * 3.3 / 7.1));
  CHECK(sft.category_share("multi-image") == Approx(0.1));
  CHECK(ocr_cfg.data.mixture.sampling == "per_batch");
  const auto ocr = compute_mixture_plan(ocr_cfg.data.mixture, ocr_cfg.data.sources);
  for (const auto& s : ocr.sources) CHECK(s.share == Approx(0.25));
  // Written from the config structs, only what differs from the defaults: a fragment sets no
  // default that would override another parent of a recipe.
  std::ifstream f(d / "stages/ocr.yaml");
  const std::string ocr_text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(ocr_text.find("sampling: per_batch") != std::string::npos);
  for (const char* key : {"check_boxes:", "seed:", "heldout_batches:", "root:"}) {
    INFO(key);
    CHECK(ocr_text.find(key) == std::string::npos);
  }
}

TEST_CASE("a moved world still loads: its fragments name files relative to themselves", "[synth]") {
  const fs::path d = fresh_dir("moving");
  synth::write_synthetic_world(tiny_config(), d.string());
  const fs::path moved = d.parent_path() / "moved_world";
  fs::remove_all(moved);
  fs::rename(d, moved);
  // No fragment holds the old folder's name (the paths are relative to the fragment).
  for (const char* f : {"common.yaml", "stages/pretrain.yaml", "stages/ocr.yaml", "stages/sft.yaml"}) {
    INFO(f);
    CHECK(mm::io::read_file((moved / f).string()).find(d.filename().string()) == std::string::npos);
  }
  const RunConfig sft = load_run_config((moved / "stages/sft.yaml").string());
  REQUIRE(sft.data.sources.size() == 6);
  for (const auto& s : sft.data.sources) {
    INFO(s.path);
    CHECK(s.path.rfind((moved / "sft").string(), 0) == 0);
    CHECK(fs::exists(s.path));
  }
  const RunConfig common = load_run_config((moved / "common.yaml").string());
  REQUIRE(common.eval.sets.size() == 10);
  for (const auto& p : common.eval.sets) CHECK((fs::exists(p) && p.rfind(moved.string(), 0) == 0));
}

TEST_CASE("every JSONL line has the fields of its format and every image decodes", "[synth]") {
  const fs::path& d = shared_world();
  for (const auto& e : fs::directory_iterator(d / "sft")) {
    if (e.path().extension() != ".jsonl") continue;
    for (const auto& rec : read_jsonl(e.path())) {
      std::vector<std::string> images;
      if (rec.contains("image")) {
        if (rec["image"].is_string())
          images.push_back(rec["image"]);
        else
          for (const auto& p : rec["image"]) images.push_back(p);
      }
      const auto& conv = rec.at("conversations");
      REQUIRE(conv.size() % 2 == 0);
      int ph = 0;
      for (size_t t = 0; t < conv.size(); ++t) {
        CHECK(conv[t].at("from") == (t % 2 == 0 ? "human" : "gpt"));
        CHECK(!conv[t].at("value").get<std::string>().empty());
        ph += placeholders(conv[t]["value"]);
      }
      CHECK(ph == static_cast<int>(images.size()));
      for (const auto& p : images) load_image(e.path().parent_path() / p);
    }
  }
  for (const auto& rec : read_jsonl(d / "pretrain/interleaved.jsonl")) {
    REQUIRE(rec.at("texts").size() == rec.at("images").size());
    for (size_t i = 0; i < rec["texts"].size(); ++i) {
      CHECK(rec["texts"][i].is_null() != rec["images"][i].is_null());
      if (!rec["images"][i].is_null()) load_image(d / "pretrain" / rec["images"][i].get<std::string>());
    }
  }
  const std::set<std::string> metrics = {"vqa_accuracy",    "anls",    "exact_match",
                                         "multiple_choice", "iou@0.5", "perplexity"};
  for (const auto& e : fs::directory_iterator(d / "eval")) {
    if (e.path().extension() != ".jsonl") continue;
    for (const auto& rec : read_jsonl(e.path())) {
      CHECK(metrics.count(rec.at("metric")));
      CHECK(!rec.at("category").get<std::string>().empty());
      if (rec["metric"] == "perplexity") {
        CHECK(rec.at("question").get<std::string>().empty());  // the answer's own perplexity
        CHECK(!rec.at("answers").at(0).get<std::string>().empty());
        continue;
      }
      CHECK(placeholders(rec.at("question")) == static_cast<int>(rec.at("images").size()));
      CHECK(!rec.at("answers").empty());
      if (rec["metric"] == "multiple_choice") CHECK(rec.at("choices").size() >= 2);
      for (const auto& p : rec["images"]) load_image(e.path().parent_path() / p.get<std::string>());
    }
  }
}

TEST_CASE("boxes lie on the 0..999 grid and match the drawn shapes", "[synth]") {
  const fs::path& d = shared_world();
  const std::regex box_re(R"(\[(\d+), (\d+), (\d+), (\d+)\])");
  const std::regex name_re(R"((red|green|blue|yellow|purple|orange) (circle|square|triangle|star))");
  int checked = 0;
  auto check_box = [&](const fs::path& image_path, const std::string& shape_name, const std::string& box) {
    std::smatch m, n;
    REQUIRE(std::regex_search(box, m, box_re));
    REQUIRE(std::regex_search(shape_name, n, name_re));
    std::array<int, 4> b{};
    for (int k = 0; k < 4; ++k) {
      b[k] = std::stoi(m[k + 1]);
      CHECK((b[k] >= 0 && b[k] <= 999));
    }
    CHECK(b[0] < b[2]);
    CHECK(b[1] < b[3]);
    const cv::Mat img = load_image(image_path);
    const int colour = static_cast<int>(std::find(synth::kColours.begin(), synth::kColours.end(), n[1].str()) -
                                        synth::kColours.begin());
    const cv::Scalar c = synth::colour_bgr(colour);
    cv::Mat mask;
    cv::inRange(img, c, c, mask);
    const cv::Rect drawn = cv::boundingRect(mask);
    REQUIRE(drawn.area() > 0);
    CHECK(synth::grid_box(drawn, img.cols, img.rows) == b);
    ++checked;
  };
  for (const auto& rec : read_jsonl(d / "eval/grounding.jsonl")) {
    const std::string q = rec["question"];
    check_box(d / "eval" / rec["images"][0].get<std::string>(), q, rec["answers"][0]);
  }
  for (const auto& rec : read_jsonl(d / "sft/refer_ground.jsonl")) {
    const auto& conv = rec["conversations"];
    const std::string q = conv[0]["value"], a = conv[1]["value"];
    const fs::path img = d / "sft" / rec["image"].get<std::string>();
    if (q.find("Where is") != std::string::npos)
      check_box(img, q, a);  // grounding: box in the answer
    else
      check_box(img, a, q);  // referring: box in the prompt
  }
  CHECK(checked == 16 + 24);
}

TEST_CASE("eval sets are disjoint from training", "[synth]") {
  const fs::path& d = shared_world();
  std::set<size_t> train_images, eval_images;
  for (const char* dir : {"pretrain", "ocr", "sft"})
    for (const auto& e : fs::recursive_directory_iterator(d / dir))
      if (e.path().extension() == ".png") train_images.insert(std::hash<std::string>{}(read_all(e.path())));
  for (const auto& e : fs::recursive_directory_iterator(d / "eval"))
    if (e.path().extension() == ".png") eval_images.insert(std::hash<std::string>{}(read_all(e.path())));
  REQUIRE(!eval_images.empty());
  for (size_t h : eval_images) CHECK(train_images.count(h) == 0);

  // Text-only questions: arithmetic on held-out operand pairs, facts in an untrained phrasing.
  std::set<std::string> train_q;
  for (const auto& rec : read_jsonl(d / "sft/text_only.jsonl")) train_q.insert(rec["conversations"][0]["value"]);
  for (const auto& rec : read_jsonl(d / "pretrain/text.jsonl")) train_q.insert(rec["text"]);
  const auto eval = read_jsonl(d / "eval/text_qa.jsonl");
  REQUIRE(eval.size() == 16);
  for (const auto& rec : eval) {
    INFO(rec["question"]);
    CHECK(train_q.count(rec["question"]) == 0);
  }
  // The pretraining text never states a held-out sum: "a plus b is c." for an eval a + b.
  std::string all_text;
  for (const auto& rec : read_jsonl(d / "pretrain/text.jsonl")) all_text += rec["text"].get<std::string>() + " ";
  const std::regex plus_re(R"(What is (\d+) plus (\d+)\?)");
  for (const auto& rec : eval) {
    std::smatch m;
    const std::string q = rec["question"];
    if (std::regex_search(q, m, plus_re))
      CHECK(all_text.find(" " + m[1].str() + " plus " + m[2].str() + " is ") == std::string::npos);
  }
}

TEST_CASE("text images include long strips and tall receipts", "[synth]") {
  const fs::path& d = shared_world();
  for (const auto& rec : read_jsonl(d / "ocr/receipts.jsonl")) {
    const cv::Mat m = load_image(d / "ocr" / rec["image"].get<std::string>());
    CHECK(m.rows >= 2 * m.cols);
  }
  for (const auto& rec : read_jsonl(d / "ocr/strips.jsonl")) {
    const cv::Mat m = load_image(d / "ocr" / rec["image"].get<std::string>());
    CHECK(m.cols >= 4 * m.rows);
    // The transcription is the drawn text; its size in pixels fits a dynamic split of <= 9 tiles
    // of 64 px without much downscaling: at least half the width of a 1 x 9 row.
    CHECK(m.cols <= 9 * 64 * 2);
  }
}

TEST_CASE("the trained tokenizer keeps the special tokens whole", "[synth][tokenizer]") {
  const fs::path d = fresh_dir("tok");
  auto cfg = tiny_config();
  cfg.tokenizer = true;
  cfg.vocab_size = 1024;  // 256 byte pieces and ~100 special symbols come first
  const auto s = synth::write_synthetic_world(cfg, d.string());
  REQUIRE(s.tokenizer_model == "tokenizer/spm.model");
  const auto tok = tok::Tokenizer::load(TokenizerConfig{}, (d / s.tokenizer_model).string());
  CHECK(tok.is_atomic("<image>"));
  CHECK(tok.is_atomic("<|assistant|>"));
  const std::string text = "How many shapes are there?";
  CHECK(tok.decode(tok.encode(text)) == text);
  CHECK(tok.encode(text).size() < text.size() / 2);  // learned pieces, not bytes
  fs::remove_all(d);
}

TEST_CASE("shapes are drawn at the configured size, and crowded scenes shrink them to keep their count", "[synth]") {
  // One shape per scene: its half extent lies in [min_r, max_r] of the side (nothing to shrink for).
  synth::SceneSpec one;
  one.min_shapes = one.max_shapes = 1;
  one.min_r = 0.14, one.max_r = 0.28;
  int smallest = 1 << 30, largest = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    CounterRng rng(7, 1, i);
    const synth::Scene sc = synth::make_scene(rng, one);
    REQUIRE(sc.shapes.size() == 1);
    smallest = std::min(smallest, sc.shapes[0].r);
    largest = std::max(largest, sc.shapes[0].r);
  }
  CHECK(smallest >= static_cast<int>(128 * 0.14));
  CHECK(largest <= static_cast<int>(128 * 0.28));
  CHECK(largest - smallest >= static_cast<int>(128 * 0.14 * 0.8));  // the whole range is used

  // Six shapes of that size do not fit in 128 x 128 at first; placement shrinks them until they do.
  synth::SceneSpec six = one;
  six.min_shapes = six.max_shapes = 6;
  six.unique_pairs = false;
  int shrunk = 0;
  for (uint64_t i = 0; i < 50; ++i) {
    CounterRng rng(7, 2, i);
    const synth::Scene sc = synth::make_scene(rng, six);
    CHECK(sc.shapes.size() == 6);
    for (const auto& s : sc.shapes) shrunk += s.r < static_cast<int>(128 * 0.14);
  }
  CHECK(shrunk > 0);

  // synth.shape_size sets the range (2/3 to 4/3 of it); synth.text_px sets the glyph height.
  SynthConfig cfg;
  cfg.shape_size = 0.15;
  cfg.text_px = 0.25;
  const synth::World w = synth::World::from(cfg, false);
  CHECK(w.shapes.min_r == Approx(0.10));
  CHECK(w.shapes.max_r == Approx(0.20));
  CHECK(w.text.cap_px == Approx(16.0));
  CHECK(w.text.thickness == 2);
}

TEST_CASE("facts are asked in four training phrasings and a fifth only in evaluation", "[synth]") {
  const SynthConfig cfg;
  const synth::World train = synth::World::from(cfg, false), eval = synth::World::from(cfg, true);
  std::map<std::string, std::set<std::string>> train_q, eval_q;  // answer -> questions
  for (uint64_t i = 0; i < 2000; ++i) {
    CounterRng r1(7, 3, i), r2(7, 4, i);
    const synth::Qa t = synth::make_text_only(r1, train, 1), e = synth::make_text_only(r2, eval, 1);
    train_q[t.answers[0]].insert(t.turns[0].first);
    eval_q[e.answers[0]].insert(e.turns[0].first);
  }
  REQUIRE(train_q.size() == 9);  // nine facts, each answered
  for (const auto& [answer, qs] : train_q) {
    INFO(answer);
    CHECK(qs.size() == 4);
    REQUIRE(eval_q[answer].size() == 1);
    CHECK(qs.count(*eval_q[answer].begin()) == 0);
  }
  CHECK(train_q["right"].count("Left is the opposite of what?") == 1);  // a subject first is capitalised
  CHECK(eval_q["5"].count("Count the points of a star.") == 1);
  CHECK(eval_q["orange"].count("Which colour comes from red and yellow?") == 1);
}
