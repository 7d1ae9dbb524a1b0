// word_probe: whole-word splitting of loss targets, word groups, the tally on hand-made
// predictions, and probe_words end to end on a captions source through the real loader.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/check.h"
#include "core/config/run_config.h"
#include "data_pipeline/loader/loader.h"
#include "eval/generation/word_probe.h"
#include "support/temp_dir.h"
#include "tests/tokenizer/tokenizer_fixture.h"

using mm::gen::split_target_words;
using mm::gen::TargetWord;

namespace {

const std::string kMark = "\xE2\x96\x81";  // U+2581

std::vector<std::string> texts(const std::vector<TargetWord>& words) {
  std::vector<std::string> out;
  for (const auto& w : words) out.push_back(w.text);
  return out;
}

}  // namespace

TEST_CASE("split_target_words joins pieces into words at word starts, punctuation and gaps", "[word_probe]") {
  // "a red circle." with "circle" in two pieces.
  auto w = split_target_words({kMark + "a", kMark + "Red", kMark + "cir", "cle", "."}, {true, true, true, true, true});
  CHECK(texts(w) == std::vector<std::string>{"a", "red", "circle"});
  CHECK(w[2].tokens == std::vector<int64_t>{2, 3});

  // A lone marker piece starts a word: "says west" as [_say][s][_][west].
  w = split_target_words({kMark + "say", "s", kMark, "west"}, {true, true, true, true});
  CHECK(texts(w) == std::vector<std::string>{"says", "west"});
  CHECK(w[1].tokens == std::vector<int64_t>{2, 3});  // the marker must be predicted too

  // Digits after punctuation start a new word; punctuation belongs to none: "[203, 35]".
  w = split_target_words({"[", "2", "0", "3", ",", kMark, "3", "5", "]"}, std::vector<bool>(9, true));
  CHECK(texts(w) == std::vector<std::string>{"203", "35"});
  CHECK(w[0].tokens == std::vector<int64_t>{1, 2, 3});

  // A byte piece of white space separates words and belongs to none: an OCR caption "gate" or
  // "463" after its image starts with a newline, "<0x0A>".
  w = split_target_words({"<0x0A>", "gate", "<0x0A>", kMark, "4", "6", "3"}, std::vector<bool>(7, true));
  CHECK(texts(w) == std::vector<std::string>{"gate", "463"});
  CHECK(w[0].tokens == std::vector<int64_t>{1});
  CHECK(w[1].tokens == std::vector<int64_t>{3, 4, 5, 6});

  // A non-target ends a word (a prompt between two answers); non-targets are never part of one.
  w = split_target_words({kMark + "ye", "s", "x", "no"}, {true, true, false, true});
  CHECK(texts(w) == std::vector<std::string>{"yes", "no"});
  CHECK(split_target_words({kMark + "a", kMark}, {false, true}).empty());
  CHECK_THROWS_AS(split_target_words({"a"}, {true, false}), mm::Error);
}

TEST_CASE("word groups parse from name=words, with # for numbers", "[word_probe]") {
  auto g = mm::gen::parse_word_group("kind=Circle,star,,#");
  CHECK(g.name == "kind");
  CHECK(g.words == std::set<std::string>{"circle", "star"});
  CHECK(g.contains("circle"));
  CHECK(g.contains("407"));
  CHECK_FALSE(g.contains("square"));
  CHECK_FALSE(mm::gen::parse_word_group("w=west").contains("12"));
  for (const char* bad : {"kind", "=circle", "kind=", "kind=,,"}) {
    INFO(bad);
    CHECK_THROWS_WITH(mm::gen::parse_word_group(bad), Catch::Contains("--group") && Catch::Contains(bad));
  }
  const auto synth = mm::gen::synth_word_groups();
  REQUIRE(synth.size() == 5);
  CHECK(synth[1].contains("triangle"));
  CHECK(synth[3].contains("west"));
  CHECK(synth[4].contains("999"));
}

TEST_CASE("the tally counts a word right only when every piece is, per group, own and other images", "[word_probe]") {
  const auto& tok = mm::test::test_tokenizer();
  std::vector<int32_t> ids = {tok.bos_id()};
  for (int32_t id : tok.encode("a red circle in the top left 123.")) ids.push_back(id);
  const int64_t t = static_cast<int64_t>(ids.size());
  auto labels = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).view({1, t});
  labels[0][0] = -100;
  auto doc_ids = torch::zeros({1, t}, torch::kLong);
  // Perfect predictions: pred[t - 1] = label[t].
  auto pred = torch::full({1, t}, -7, torch::kLong);
  pred.narrow(1, 0, t - 1).copy_(labels.narrow(1, 1, t - 1));
  auto other = pred.clone();
  // Break the last piece of the number with own images; break "red" with other images.
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(tok.id_to_piece(id));
  std::vector<bool> is_target(pieces.size(), true);
  is_target[0] = false;
  int64_t last_digit = -1, red = -1;
  for (const auto& w : split_target_words(pieces, is_target)) {
    if (w.text == "red") red = w.tokens.back();
    if (w.text == "123") last_digit = w.tokens.back();
  }
  REQUIRE(red > 0);
  REQUIRE(last_digit > 0);
  pred[0][last_digit - 1] = -1;
  other[0][red - 1] = -1;

  std::vector<mm::gen::WordGroup> groups = {
      mm::gen::parse_word_group("colour=red,blue"), mm::gen::parse_word_group("shape=circle"),
      mm::gen::parse_word_group("number=#"), mm::gen::parse_word_group("absent=zebra")};
  mm::gen::WordProbeReport r;
  mm::gen::tally_word_predictions(labels, doc_ids, pred, other, tok, groups, r);
  REQUIRE(r.groups.size() == 4);
  CHECK(r.target_words == 8);  // a red circle in the top left 123
  CHECK((r.groups[0].words == 1 && r.groups[0].right == 1 && r.groups[0].right_other_images == 0));
  CHECK((r.groups[1].words == 1 && r.groups[1].right == 1 && r.groups[1].right_other_images == 1));
  CHECK((r.groups[2].words == 1 && r.groups[2].right == 0 && r.groups[2].right_other_images == 1));
  CHECK(r.groups[3].words == 0);

  // A document boundary: the first target of a new document is not predicted, so not counted.
  auto docs2 = doc_ids.clone();
  docs2.narrow(1, red, t - red).fill_(1);
  mm::gen::WordProbeReport r2;
  mm::gen::tally_word_predictions(labels, docs2, pred, other, tok, groups, r2);
  CHECK(r2.groups[0].words == 0);
  CHECK(r2.groups[1].words == 1);

  const auto md = mm::gen::word_probe_markdown(r);
  CHECK_THAT(md, Catch::Contains("| colour | 1 | 100.0 | 0.0 | +100.0 |"));
  CHECK_THAT(md, Catch::Contains("| absent | 0 |"));
  const auto j = mm::gen::word_probe_json(r);
  CHECK(j["groups"]["number"]["accuracy"].get<double>() == 0.0);
  CHECK(j["groups"]["number"]["accuracy_other_images"].get<double>() == 1.0);
}

TEST_CASE("probe_words reads a captions source: every caption word counted once, same images same scores",
          "[word_probe]") {
  mm::test::TempDir dir;
  const auto& tok = mm::test::test_tokenizer();
  mm::RunConfig cfg =
      mm::load_run_config(std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml",
                          {"model.llm.layers=1", "model.vision.layers=1", "image.tile_size=64", "image.mode=single",
                           "loader.seq_len=256", "loader.micro_batch=2", "loader.workers=1"});
  cfg.model.llm.vocab_size = tok.vocab_size();
  // One picture for every caption: rotating the batch's tiles then changes nothing.
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(30, 60, 200));
  REQUIRE(cv::imwrite(dir.file("p.png"), img));
  {
    std::ofstream f(dir.file("caps.jsonl"));
    for (int i = 0; i < 20; ++i)
      f << "{\"id\":\"c" << i << "\",\"image\":\"p.png\",\"caption\":\"a red circle in the top left.\"}\n";
  }
  mm::SourceConfig src;
  src.name = "caps";
  src.format = "captions";
  src.path = dir.file("caps.jsonl");
  torch::manual_seed(3);
  mm::MultimodalModel model(cfg.model);
  model->train();
  auto loader = mm::data::make_loader({src}, cfg.data.mixture, cfg.image, tok, model->tokens_per_tile(), cfg.loader);
  const auto groups = mm::gen::synth_word_groups();
  const auto r = mm::gen::probe_words(model, *loader, tok, groups, 2);
  CHECK(model->is_training());  // mode restored
  CHECK(r.batches == 2);
  REQUIRE(r.images > 0);
  for (size_t g : {0, 1}) {  // colour (red), shape (circle): once per caption, one image per caption
    INFO(groups[g].name);
    CHECK(r.groups[g].words == r.images);
    CHECK(r.groups[g].right_other_images == r.groups[g].right);
  }
  CHECK(r.groups[2].words == 2 * r.images);  // top, left
  CHECK(r.groups[3].words == 0);
  CHECK(r.target_words == 7 * r.images);  // a red circle in the top left
}
