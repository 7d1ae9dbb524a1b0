// Tests of the pre-flight data lint: a small synthetic world lints clean with the real readers and
// SamplePipeline; a damaged copy (truncated shard, corrupt / oversized / missing image, bad JSON
// line, wrong placeholder count, no assistant turn, off-grid box) is reported record by record
// with the right reasons; the verdict follows --max-bad-fraction; thread count changes nothing.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/config/run_config.h"
#include "core/config/synth_config.h"
#include "data_pipeline/lint/lint.h"
#include "data_pipeline/synth/synth_world.h"
#include "tests/tokenizer/tokenizer_fixture.h"

using namespace mm;
using namespace mm::data;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr int64_t kTokensPerTile = 4;

SynthConfig tiny_world() {
  SynthConfig c;
  c.tile = 32;
  c.counts.caption = 12;
  c.counts.interleaved = 4;
  c.counts.text = 10;
  c.counts.ocr = 5;
  c.counts.general = 12;
  c.counts.text_rich = 10;
  c.counts.refer_ground = 12;
  c.counts.knowledge = 10;
  c.counts.multi_image = 8;
  c.counts.text_only = 12;
  c.counts.eval = 0;
  c.shard_size = 5;
  c.tokenizer = false;
  return c;
}

fs::path scratch(const std::string& name) {
  // The pid keeps ctest's parallel processes (one per TEST_CASE) out of each other's folders.
  fs::path d = fs::temp_directory_path() / ("mm_test_lint_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

// The world, written once per test process, and removed at exit.
struct World {
  fs::path dir = scratch("world");
  synth::SynthSummary summary;
  World() { summary = synth::write_synthetic_world(tiny_world(), dir.string()); }
  ~World() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const World& world() {
  static const World w;
  return w;
}

// The training sources of the world (pretraining, OCR, SFT), built from the synth summary.
std::vector<SourceConfig> sources_under(const fs::path& dir) {
  std::vector<SourceConfig> out;
  for (const auto& s : world().summary.sets) {
    if (s.stage == "eval") continue;
    SourceConfig c;
    c.name = s.name;
    c.format = s.format;
    c.path = (dir / s.path).string();
    c.category = s.category;
    out.push_back(c);
  }
  return out;
}

LintInputs inputs(const fs::path& dir) {
  LintInputs in;
  in.sources = sources_under(dir);
  in.image.tile_size = 32;
  in.image.max_pixels = 1000000;
  in.tokenizer = mm::test::test_tokenizer();
  in.seq_len = 4096;
  in.tokens_per_tile = kTokensPerTile;
  return in;
}

LintOptions options(double max_bad = 0.01, int64_t threads = 3) {
  LintOptions o;
  o.max_bad_fraction = max_bad;
  o.threads = threads;
  o.progress_interval_s = 0;
  return o;
}

const SourceLint& source(const LintReport& r, const std::string& name) {
  for (const auto& s : r.sources)
    if (s.config.name == name) return s;
  FAIL("no source " << name << " in the report");
  throw std::logic_error("unreachable");
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::ofstream f(p, std::ios::trunc);
  for (const auto& l : lines) f << l << "\n";
}

// Edits line `k` (0-based) of a JSONL file.
void edit_line(const fs::path& p, size_t k, const std::function<std::string(const std::string&)>& edit) {
  auto lines = read_lines(p);
  REQUIRE(k < lines.size());
  lines[k] = edit(lines[k]);
  write_lines(p, lines);
}

Json line_json(const fs::path& p, size_t k) { return Json::parse(read_lines(p).at(k)); }

// The image path of record k of an SFT file (first image), relative to the file's folder.
std::string first_image(const Json& rec) {
  return rec["image"].is_array() ? rec["image"][0].get<std::string>() : rec["image"].get<std::string>();
}

// Quarantined ids of a source -> lint issue.
std::map<std::string, std::string> issues_of(const LintReport& r, const std::string& source) {
  std::map<std::string, std::string> out;
  for (const auto& e : r.quarantine)
    if (e.source == source) out[e.id] = to_string(classify(e));
  return out;
}

}  // namespace

TEST_CASE("lint: the synthetic world lints clean", "[lint]") {
  const World& w = world();
  const LintReport r = lint_data(inputs(w.dir), options());
  INFO(r.to_table());
  CHECK(r.ok());
  CHECK(r.quarantine.empty());
  REQUIRE(r.mixture);
  CHECK(r.mixture->sources.size() == r.sources.size());
  std::map<std::string, synth::SynthSetSummary> sets;
  for (const auto& s : w.summary.sets) sets[s.name] = s;
  int64_t total = 0;
  for (const auto& s : r.sources) {
    INFO(s.config.name);
    const auto& set = sets.at(s.config.name);
    CHECK(s.verdict == "pass");
    CHECK(s.bad == 0);
    CHECK(s.records == set.samples);
    CHECK(s.good == set.samples);
    CHECK(s.images == set.images);
    CHECK(s.tokens.samples == s.good);
    CHECK(s.tokens.p50 <= s.tokens.p99);
    CHECK(s.tokens.p99 <= s.tokens.max);
    CHECK(s.tokens.mean > 0);
    CHECK(s.tokens.mean <= s.tokens.max);
    CHECK(s.tokens.loss > 0);
    CHECK(s.tokens.loss < s.tokens.total);
    if (set.images > 0) CHECK(s.tiles >= set.images);
    if (set.format == "llava") CHECK(s.tokens.loss_share() < 0.9);  // user turns and images carry no loss
    if (set.format == "text") CHECK(s.tokens.loss_share() > 0.9);   // all text but bos
    total += s.records;
  }
  CHECK(r.records() == total);
  const auto j = r.to_json();
  CHECK(j["verdict"] == "pass");
  CHECK(j["sources"].size() == r.sources.size());
  CHECK(j["mixture"]["sources"].size() == r.sources.size());
  CHECK(r.to_table().find("verdict: pass") != std::string::npos);
}

TEST_CASE("lint: the report does not depend on the thread count", "[lint]") {
  const World& w = world();
  LintInputs in = inputs(w.dir);
  in.seq_len = 160;  // some samples need tile budgeting, some do not fit
  const LintReport a = lint_data(in, options(0.01, 1));
  const LintReport b = lint_data(in, options(0.01, 4));
  REQUIRE(a.sources.size() == b.sources.size());
  for (size_t i = 0; i < a.sources.size(); ++i) {
    CHECK(a.sources[i].good == b.sources[i].good);
    CHECK(a.sources[i].issues == b.sources[i].issues);
    CHECK(a.sources[i].budgeted == b.sources[i].budgeted);
    CHECK(a.sources[i].tokens.total == b.sources[i].tokens.total);
    CHECK(a.sources[i].tokens.p99 == b.sources[i].tokens.p99);
  }
  REQUIRE(a.quarantine.size() == b.quarantine.size());
  for (size_t i = 0; i < a.quarantine.size(); ++i)
    CHECK(to_json_line(a.quarantine[i]) == to_json_line(b.quarantine[i]));
  // With a short sequence, images get fewer tiles first (budgeting), and what cannot fit even at one
  // tile per image is reported as too_long.
  int64_t budgeted = 0, too_long = 0, chunked = 0;
  for (const auto& s : a.sources) {
    budgeted += s.budgeted;
    too_long += s.issue(LintIssue::TooLong);
    chunked += s.chunked;
  }
  INFO(a.to_table());
  CHECK(budgeted > 0);
  CHECK(too_long > 0);
  CHECK(chunked > 0);  // long text-only documents are cut by the packer, not quarantined
  for (const auto& e : a.quarantine) CHECK(classify(e) == LintIssue::TooLong);
}

TEST_CASE("lint: a damaged copy is reported record by record", "[lint]") {
  const World& w = world();
  const fs::path d = scratch("damaged");
  fs::copy(w.dir, d, fs::copy_options::recursive);

  // 1. A truncated tar shard: the second caption shard cut in the middle.
  const fs::path shard = d / "pretrain" / "captions-000001.tar";
  fs::resize_file(shard, fs::file_size(shard) / 2);
  // 2. A corrupt image (sft_general record 3).
  const fs::path general = d / "sft" / "general.jsonl";
  const Json g3 = line_json(general, 3);
  { std::ofstream(general.parent_path() / first_image(g3), std::ios::trunc) << "this is not an image"; }
  // 3. An oversized image (sft_general record 6): 1200 x 1000 > image.max_pixels = 1e6.
  const Json g6 = line_json(general, 6);
  cv::imwrite((general.parent_path() / first_image(g6)).string(),
              cv::Mat(1000, 1200, CV_8UC3, cv::Scalar(90, 20, 200)));
  // 4. A conversation without an assistant turn (sft_general record 8).
  const Json g8 = line_json(general, 8);
  edit_line(general, 8, [](const std::string& l) {
    Json j = Json::parse(l);
    Json kept = Json::array();
    for (const auto& t : j["conversations"])
      if (t["from"] != "gpt") kept.push_back(t);
    j["conversations"] = kept;
    return j.dump();
  });
  // 5. A bad JSON line (sft_text_only line 3 of the file, record index 2).
  const fs::path text_only = d / "sft" / "text_only.jsonl";
  edit_line(text_only, 2, [](const std::string& l) { return l.substr(0, l.size() / 2); });
  // 6. A wrong placeholder count (sft_knowledge record 1: a second "<image>" for its one image; no
  // placeholder at all is the LLaVA convention of "images first", which the reader accepts).
  const fs::path knowledge = d / "sft" / "knowledge.jsonl";
  const Json k1 = line_json(knowledge, 1);
  edit_line(knowledge, 1, [](const std::string& l) {
    Json j = Json::parse(l);
    REQUIRE(j["image"].is_string());
    j["conversations"][0]["value"] = "<image> <image>\n" + j["conversations"][0]["value"].get<std::string>();
    return j.dump();
  });
  // 7. A missing image file (sft_refer_ground record 2) and 8. an off-grid box (record 5).
  const fs::path refer = d / "sft" / "refer_ground.jsonl";
  const Json r2 = line_json(refer, 2), r5 = line_json(refer, 5);
  fs::remove(refer.parent_path() / first_image(r2));
  edit_line(refer, 5, [](const std::string& l) {
    Json j = Json::parse(l);
    j["conversations"][1]["value"] = "The box is [10, 20, 1200, 30].";
    return j.dump();
  });
  // 9. Boxes written as 0-1 fractions (records 6 and 7): trained as text, so lint warns.
  for (int rec : {6, 7}) {
    edit_line(refer, rec, [rec](const std::string& l) {
      Json j = Json::parse(l);
      j["conversations"][1]["value"] = rec == 6 ? "The box is [0.12, 0.3, 0.55, 0.8]." : "At [0.5, 1.0].";
      return j.dump();
    });
  }

  LintInputs in = inputs(d);
  SourceConfig missing;
  missing.name = "not_there";
  missing.format = "llava";
  missing.path = (d / "sft" / "no_such_file.jsonl").string();
  in.sources.push_back(missing);
  const LintReport r = lint_data(in, options(0.01));
  INFO(r.to_table());

  // Record by record, with the right reasons.
  const auto gen = issues_of(r, "sft_general");
  CHECK(gen.size() == 3);
  CHECK(gen.at(g3["id"].get<std::string>()) == "unreadable_image");
  CHECK(gen.at(g6["id"].get<std::string>()) == "oversized_image");
  CHECK(gen.at(g8["id"].get<std::string>()) == "no_assistant_turn");
  const auto txt = issues_of(r, "sft_text_only");
  REQUIRE(txt.size() == 1);
  CHECK(txt.begin()->second == "malformed");
  CHECK(txt.begin()->first.find('3') != std::string::npos);  // "line 3"
  const auto know = issues_of(r, "sft_knowledge");
  REQUIRE(know.size() == 1);
  CHECK(know.at(k1["id"].get<std::string>()) == "placeholder_mismatch");
  const auto ref = issues_of(r, "sft_refer_ground");
  CHECK(ref.size() == 2);
  CHECK(ref.at(r2["id"].get<std::string>()) == "missing_image");  // the quarantine kind's name
  CHECK(ref.at(r5["id"].get<std::string>()) == "box_out_of_range");
  for (const auto& s : r.sources) {
    INFO(s.config.name);
    CHECK(s.fraction_boxes == (s.config.name == "sft_refer_ground" ? 2 : 0));
  }
  CHECK_THAT(r.to_table(), Catch::Contains("sft_refer_ground: warning: 2 samples write boxes as 0-1 fractions (first: "
                                           "[0.12, 0.3, 0.55, 0.8])"));
  const auto caps = issues_of(r, "synth_captions");
  REQUIRE(!caps.empty());
  for (const auto& [id, issue] : caps) CHECK(issue == "damaged_shard");
  const SourceLint& cap = source(r, "synth_captions");
  for (const auto& set : world().summary.sets)
    if (set.name == "synth_captions") CHECK(cap.good < set.samples);
  CHECK(cap.good >= 5);  // the first shard is whole

  // Sources without damage still pass; damaged ones fail at 1 %; the missing file is unusable.
  CHECK(source(r, "sft_multi_image").verdict == "pass");
  CHECK(source(r, "synth_text").verdict == "pass");
  CHECK(source(r, "sft_general").verdict == "fail");
  CHECK(source(r, "sft_general").bad == 3);
  CHECK(source(r, "sft_general").issue(LintIssue::OversizedImage) == 1);
  CHECK(source(r, "sft_refer_ground").verdict == "fail");
  CHECK(source(r, "not_there").verdict == "unusable");
  CHECK(!source(r, "not_there").open_error.empty());
  CHECK(!r.ok());
  CHECK(r.to_json()["verdict"] == "fail");
  CHECK(r.to_table().find("verdict: fail") != std::string::npos);

  // quarantine.jsonl: one {source, id, kind, issue, reason} per bad record; the file and the
  // console name a problem alike (the console shows "issue: kind" where the two words differ).
  const fs::path q = d / "quarantine.jsonl";
  write_quarantine(r, q.string());
  const auto lines = read_lines(q);
  REQUIRE(lines.size() == r.quarantine.size());
  std::set<std::string> sources_seen;
  const std::string table = r.to_table();
  for (const auto& l : lines) {
    const Json j = Json::parse(l);
    CHECK(!j["id"].get<std::string>().empty());
    CHECK(!j["reason"].get<std::string>().empty());
    const std::string kind = j["kind"], issue = j["issue"];
    if (j["source"] == "sft_refer_ground" && issue == "missing_image") CHECK(kind == "missing_image");
    if (j["source"] == "sft_text_only") {
      CHECK(issue == "malformed");
      CHECK(table.find("[malformed: " + kind + "]") != std::string::npos);
    }
    sources_seen.insert(j["source"].get<std::string>());
  }
  CHECK(sources_seen ==
        std::set<std::string>{"synth_captions", "sft_general", "sft_text_only", "sft_knowledge", "sft_refer_ground"});

  // Under a looser threshold every damaged source passes (each has < 50 % bad records), but the
  // unusable source still fails the lint; without it the lint passes.
  LintReport loose = lint_data(in, options(0.5));
  CHECK(source(loose, "sft_general").verdict == "pass");
  CHECK(!loose.ok());
  in.sources.pop_back();
  loose = lint_data(in, options(0.5));
  INFO(loose.to_table());
  CHECK(loose.ok());
  CHECK(loose.quarantine.size() == r.quarantine.size());
  fs::remove_all(d);
}

TEST_CASE("lint: classify maps pipeline reasons to lint issues", "[lint]") {
  auto other = [](const std::string& reason) { return classify({"s", "id", QuarantineKind::Other, reason}); };
  CHECK(other("image 0 (a.png): image too large: 9000x9000 = 81000000 pixels > image.max_pixels 64000000") ==
        LintIssue::OversizedImage);
  CHECK(other("image 1 (b.png): cannot open image b.png: No such file or directory") == LintIssue::MissingImage);
  CHECK(other("image 0 (c.png): truncated PNG: no IEND chunk (100 bytes)") == LintIssue::UnreadableImage);
  CHECK(other("900 tokens with single tile exceed the sequence length 512 (image tokens are never cut)") ==
        LintIssue::TooLong);
  CHECK(other("no token carries loss (no assistant turn and no Text turn)") == LintIssue::NoLoss);
  CHECK(other("something else") == LintIssue::Other);
  CHECK(classify({"s", "id", QuarantineKind::BadJson, "x"}) == LintIssue::Malformed);
  CHECK(classify({"s", "id", QuarantineKind::MissingImage, "x"}) == LintIssue::MissingImage);
  CHECK(std::string(to_string(LintIssue::BoxOutOfRange)) == "box_out_of_range");
}

TEST_CASE("lint: inputs from a run config", "[lint]") {
  RunConfig cfg;
  CHECK_THROWS_WITH(lint_inputs(cfg, "sft"), Catch::Contains("no data.sources") && Catch::Contains("stage sft"));
  cfg.data.sources = sources_under(world().dir);
  CHECK_THROWS_WITH(lint_inputs(cfg), Catch::Contains("tokenizer.model_path"));
  LintInputs in = inputs(world().dir);
  in.sources.clear();
  CHECK_THROWS_WITH(lint_data(in, options()), Catch::Contains("no data.sources"));
}
