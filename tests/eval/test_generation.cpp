// mm_generate: prompts through the training preprocessing, greedy decoding with the KV cache
// (against recomputing the whole sequence each step, batched against one by one), perplexity
// scoring against the model's own loss, evaluate_model end to end, and the generate / eval CLI.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "core/config/run_config.h"
#include "core/io.h"
#include "core/timer.h"
#include "eval/generation/evaluate_model.h"
#include "eval/generation/generate.h"
#include "eval/generation/prompt.h"
#include "eval/metrics/perplexity.h"
#include "models/checkpoint/checkpoint_manager.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"
#include "support/temp_dir.h"
#include "tests/tokenizer/tokenizer_fixture.h"
#include "tokenizer/chat_template.h"

namespace fs = std::filesystem;
using mm::gen::Prompt;

namespace {

// The debug preset, smaller: 2 decoder layers, 1 ViT block, tiles of 64 px, 1..4 tiles.
mm::RunConfig test_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> sets = {"model.llm.layers=2", "model.vision.layers=1", "image.tile_size=64",
                                   "image.nmin=1",       "image.nmax=4",          "loader.seq_len=512"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  return mm::load_run_config(std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml", sets);
}

// A random-init model with larger weights than the default init, so greedy outputs vary.
mm::MultimodalModel test_model(const mm::RunConfig& cfg, uint64_t seed = 1) {
  torch::manual_seed(seed);
  mm::MultimodalModel model(cfg.model);
  model->llm->reset_parameters(0.08);
  model->eval();
  return model;
}

// A noise PNG of w x h pixels.
std::string write_png(const mm::test::TempDir& dir, const std::string& name, int w, int h, int seed) {
  cv::Mat img(h, w, CV_8UC3);
  cv::theRNG().state = static_cast<uint64_t>(seed) + 1;
  cv::randu(img, cv::Scalar(0, 0, 0), cv::Scalar(255, 255, 255));
  const std::string path = dir.file(name);
  fs::create_directories(fs::path(path).parent_path());
  REQUIRE(cv::imwrite(path, img));
  return path;
}

std::vector<int32_t> cat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// One prompt alone, (1, T) with positions 0.., doc 0, its tiles and slots, as MultimodalBatch.
mm::MultimodalBatch single_batch(const std::vector<int32_t>& ids, const Prompt& p, int64_t m) {
  const int64_t t = static_cast<int64_t>(ids.size());
  mm::MultimodalBatch b;
  b.input_ids = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).view({1, t});
  b.positions = torch::arange(t, torch::kLong).view({1, t});
  b.doc_ids = torch::zeros({1, t}, torch::kLong);
  if (p.num_tiles() > 0) {
    b.tiles = p.tiles;
    std::vector<int64_t> slots;
    for (int64_t s : p.tile_starts)
      for (int64_t j = 0; j < m; ++j) slots.push_back(s + j);
    b.image_slots = torch::tensor(slots, torch::kLong);
  }
  return b;
}

// Reference greedy decoding: the whole sequence through MultimodalModel::forward at every step.
std::vector<int32_t> greedy_recompute(mm::MultimodalModel& model, const mm::tok::Tokenizer& tok, const Prompt& p,
                                      int64_t max_new) {
  torch::NoGradGuard no_grad;
  const auto turn_end = tok.encode(tok.config().turn_end);
  std::vector<int32_t> seq = p.ids, out;
  for (int64_t step = 0; step < max_new; ++step) {
    auto logits = model->forward(single_batch(seq, p, model->tokens_per_tile())).logits;  // (1, T, V)
    const auto next = static_cast<int32_t>(logits[0][-1].narrow(0, 0, tok.vocab_size()).argmax().item<int64_t>());
    out.push_back(next);
    seq.push_back(next);
    if (next == tok.eos_id()) break;
    if (out.size() >= turn_end.size() && std::equal(turn_end.rbegin(), turn_end.rend(), out.rbegin())) break;
  }
  return out;
}

struct Fixture {
  mm::test::TempDir dir;
  mm::RunConfig cfg = test_config();
  const mm::tok::Tokenizer& tok = mm::test::test_tokenizer();
  mm::MultimodalModel model = test_model(cfg);
  mm::gen::PromptBuilder builder{cfg, tok, model->tokens_per_tile()};
  std::string img_a = write_png(dir, "a.png", 64, 64, 1);   // square: few tiles
  std::string img_b = write_png(dir, "b.png", 150, 70, 2);  // wide
  std::string img_c = write_png(dir, "c.png", 40, 120, 3);  // tall, small
};

}  // namespace

TEST_CASE("prompt ids follow the chat template exactly, with the assistant prefix and no eos", "[generation]") {
  Fixture f;
  const auto& tok = f.tok;
  const auto& tc = tok.config();
  const std::string q = "What is 3 plus 4?";
  Prompt p = f.builder.build(q, {});
  const auto expected = cat({{tok.bos_id()},
                             tok.encode(tc.user_prefix),
                             tok.encode(q),
                             tok.encode(tc.turn_end),
                             tok.encode(tc.assistant_prefix)});
  CHECK(p.ids == expected);
  CHECK(p.num_tiles() == 0);
  CHECK_FALSE(p.tiles.defined());
  CHECK(p.ids.back() != tok.eos_id());

  // With an image: the text around the image run is the template's; the run holds tiles x M slots.
  Prompt pi = f.builder.build("<image>\nWhat colour is the circle?", {f.img_b});
  const int64_t m = f.model->tokens_per_tile();
  REQUIRE(pi.num_tiles() >= 2);  // 150 x 70 splits into several tiles plus the overview
  CHECK(pi.tiles.sizes() == torch::IntArrayRef({pi.num_tiles(), 3, 64, 64}));
  int64_t image_tokens = 0;
  for (int32_t id : pi.ids) image_tokens += id == tok.image_id();
  CHECK(image_tokens == pi.num_tiles() * m);
  for (int64_t s : pi.tile_starts)
    for (int64_t j = 0; j < m; ++j) CHECK(pi.ids[s + j] == tok.image_id());
  const auto head = cat({{tok.bos_id()}, tok.encode(tc.user_prefix)});
  const auto tail =
      cat({tok.encode("\nWhat colour is the circle?"), tok.encode(tc.turn_end), tok.encode(tc.assistant_prefix)});
  CHECK(std::vector<int32_t>(pi.ids.begin(), pi.ids.begin() + head.size()) == head);
  CHECK(std::vector<int32_t>(pi.ids.end() - tail.size(), pi.ids.end()) == tail);

  // The same sample through the training encoder, minus turn_end + eos of an empty assistant turn.
  mm::data::SamplePipelineOptions po;
  po.image = f.cfg.image;
  po.seq_len = f.cfg.loader.seq_len;
  mm::data::SamplePipeline pipeline(mm::tok::SampleEncoder(tok, m), po);
  mm::data::RawSample s;
  s.turns = {{mm::data::Role::User, "<image>\nWhat colour is the circle?"}, {mm::data::Role::Assistant, ""}};
  s.images = {mm::data::ImageRef{f.img_b}};
  auto item = pipeline.encode(s);
  REQUIRE(item.ok());
  auto train_ids = item.sample.input_ids;
  train_ids.resize(train_ids.size() - tok.encode(tc.turn_end).size() - 1);
  CHECK(pi.ids == train_ids);
  CHECK(torch::equal(pi.tiles, item.tiles[0]));

  // The plain template: no role markers at all.
  mm::TokenizerConfig plain_cfg;
  plain_cfg.chat_template = "plain";
  auto plain = mm::tok::Tokenizer::from_bytes(plain_cfg, tok.model_bytes());
  mm::gen::PromptBuilder plain_builder(f.cfg, plain, m);
  CHECK(plain_builder.build(q, {}).ids == cat({{plain.bos_id()}, plain.encode(q)}));

  // Errors name the item.
  CHECK_THROWS_WITH(f.builder.build("<image> <image> two?", {f.img_a}, "set.jsonl:3"),
                    Catch::Contains("set.jsonl:3") && Catch::Contains("placeholder"));
  CHECK_THROWS_WITH(f.builder.build("<image>", {f.dir.file("missing.png")}, "set.jsonl:4"),
                    Catch::Contains("set.jsonl:4"));
}

TEST_CASE("greedy decoding with the KV cache equals recomputing the whole sequence each step", "[generation]") {
  Fixture f;
  const int64_t max_new = 12;
  std::vector<Prompt> prompts = {
      f.builder.build("What is 3 plus 4?", {}),
      f.builder.build("<image>\nWhere is the red square?", {f.img_b}),
      f.builder.build("<image> and <image>: which one is larger?", {f.img_a, f.img_c}),
      f.builder.build("A blue star in the top left. The quick brown fox jumps over the lazy dog. Where?", {}),
  };
  mm::gen::GenerateOptions opt;
  opt.max_new_tokens = max_new;
  auto batched = mm::gen::generate(f.model, f.tok, prompts, opt);
  REQUIRE(batched.size() == prompts.size());
  std::set<std::vector<int32_t>> distinct;
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i << " (" << prompts[i].ids.size() << " tokens, " << prompts[i].num_tiles() << " tiles)");
    const auto ref = greedy_recompute(f.model, f.tok, prompts[i], max_new);
    CHECK(batched[i].output_ids == ref);
    auto alone = mm::gen::generate(f.model, f.tok, {prompts[i]}, opt).at(0);
    CHECK(alone.output_ids == batched[i].output_ids);
    CHECK(alone.text == batched[i].text);
    CHECK(alone.stop == batched[i].stop);
    if (batched[i].stop == "length") CHECK(static_cast<int64_t>(batched[i].output_ids.size()) == max_new);
    // text = the ids decoded without the stop token
    auto ids = batched[i].output_ids;
    if (batched[i].stop == "eos") ids.pop_back();
    if (batched[i].stop == "turn_end") ids.resize(ids.size() - f.tok.encode(f.tok.config().turn_end).size());
    CHECK(batched[i].text == f.tok.decode(ids));
    distinct.insert(batched[i].output_ids);
  }
  CHECK(distinct.size() > 1);  // the prompts (and images) matter
}

TEST_CASE("generation stops at turn_end and at eos, stopped rows leave the batch", "[generation]") {
  Fixture f;
  const int64_t max_new = 12;
  std::vector<Prompt> prompts = {
      f.builder.build("What is 3 plus 4?", {}),
      f.builder.build("<image>\nWhere is the red square?", {f.img_b}),
      f.builder.build("A blue star in the top left. The quick brown fox jumps over the lazy dog. Where?", {}),
  };
  mm::gen::GenerateOptions opt;
  opt.max_new_tokens = max_new;
  const auto full = mm::gen::generate(f.model, f.tok, prompts, opt);

  SECTION("turn_end: a tokenizer whose turn_end is a token row 0 generates at step k >= 2") {
    // The prompts stay as built; only the stop criterion changes (generate reads turn_end from the
    // tokenizer it is given).
    const auto& out0 = full[0].output_ids;
    int32_t stop_id = -1;
    size_t k = 0;
    for (size_t i = 2; i < out0.size() && stop_id < 0; ++i) {
      const int32_t id = out0[i];
      if (std::find(out0.begin(), out0.begin() + i, id) != out0.begin() + i) continue;
      if (f.tok.is_control(id) || id == f.tok.image_id()) continue;
      if (f.tok.encode(f.tok.decode({id})) != std::vector<int32_t>{id}) continue;
      stop_id = id;
      k = i;
    }
    REQUIRE(stop_id >= 0);
    mm::TokenizerConfig tc;
    tc.turn_end = f.tok.decode({stop_id});
    auto tok2 = mm::tok::Tokenizer::from_bytes(tc, f.tok.model_bytes());
    const auto res = mm::gen::generate(f.model, tok2, prompts, opt);
    for (size_t r = 0; r < prompts.size(); ++r) {
      INFO("row " << r);
      const auto& fr = full[r].output_ids;
      auto first = std::find(fr.begin(), fr.end(), stop_id);
      const std::vector<int32_t> expected(fr.begin(), first == fr.end() ? fr.end() : first + 1);
      CHECK(res[r].output_ids == expected);
      CHECK(res[r].stop == (first == fr.end() ? "length" : "turn_end"));
      CHECK(res[r].output_ids == greedy_recompute(f.model, tok2, prompts[r], max_new));
      auto text_ids = expected;
      if (first != fr.end()) text_ids.pop_back();
      CHECK(res[r].text == tok2.decode(text_ids));
    }
    CHECK(res[0].output_ids.size() == k + 1);
    CHECK(res[0].stop == "turn_end");
  }

  SECTION("eos: a much larger eos embedding (tied head) makes eos win early") {
    {
      torch::NoGradGuard no_grad;
      f.model->llm->embed_tokens->weight[f.tok.eos_id()].mul_(1000.0);
    }
    const auto res = mm::gen::generate(f.model, f.tok, prompts, opt);
    int stopped = 0;
    for (size_t r = 0; r < prompts.size(); ++r) {
      INFO("row " << r);
      CHECK(res[r].output_ids == greedy_recompute(f.model, f.tok, prompts[r], max_new));
      CHECK(res[r].output_ids == mm::gen::generate(f.model, f.tok, {prompts[r]}, opt).at(0).output_ids);
      if (res[r].stop == "eos") {
        ++stopped;
        CHECK(res[r].output_ids.back() == f.tok.eos_id());
        CHECK(res[r].text == f.tok.decode({res[r].output_ids.begin(), res[r].output_ids.end() - 1}));
      }
    }
    CHECK(stopped >= 2);
  }
}

TEST_CASE("sampling: reproducible from its seed, and greedy with top-p near 0 or temperature 0", "[generation]") {
  Fixture f;
  const std::vector<Prompt> prompts = {f.builder.build("What is 1 plus 2?", {}),
                                       f.builder.build("<image>\nWhat is written?", {f.img_a})};
  mm::gen::GenerateOptions greedy;
  greedy.max_new_tokens = 8;
  const auto g = mm::gen::generate(f.model, f.tok, prompts, greedy);
  mm::gen::GenerateOptions sampled = greedy;
  sampled.temperature = 1.5;
  sampled.seed = 11;
  const auto s1 = mm::gen::generate(f.model, f.tok, prompts, sampled);
  const auto s2 = mm::gen::generate(f.model, f.tok, prompts, sampled);
  bool differs_from_greedy = false;
  for (size_t i = 0; i < prompts.size(); ++i) {
    CHECK(s1[i].output_ids == s2[i].output_ids);  // the same seed, the same tokens
    differs_from_greedy |= s1[i].output_ids != g[i].output_ids;
  }
  CHECK(differs_from_greedy);  // an untrained model's distribution is wide: sampling leaves the argmax
  sampled.seed = 12;
  const auto s3 = mm::gen::generate(f.model, f.tok, prompts, sampled);
  CHECK((s3[0].output_ids != s1[0].output_ids || s3[1].output_ids != s1[1].output_ids));
  // A nucleus that holds only the most likely token is greedy decoding.
  sampled.top_p = 1e-12;
  const auto nucleus = mm::gen::generate(f.model, f.tok, prompts, sampled);
  for (size_t i = 0; i < prompts.size(); ++i) CHECK(nucleus[i].output_ids == g[i].output_ids);
  mm::gen::GenerateOptions bad = greedy;
  bad.temperature = -1;
  CHECK_THROWS_WITH(mm::gen::generate(f.model, f.tok, prompts, bad), Catch::Contains("temperature"));
  bad = greedy;
  bad.top_p = 0;
  CHECK_THROWS_WITH(mm::gen::generate(f.model, f.tok, prompts, bad), Catch::Contains("top_p"));
}

TEST_CASE("a system prompt is the chat template's system turn before the question", "[generation]") {
  Fixture f;
  const Prompt plain = f.builder.build("What is 1 plus 2?", {});
  const Prompt with = f.builder.build("What is 1 plus 2?", {}, "prompt", "Answer with one word.");
  // The template encodes each turn's text on its own: both runs of ids appear, system first.
  const auto sys = f.tok.encode("Answer with one word."), question = f.tok.encode("What is 1 plus 2?");
  const auto at_sys = std::search(with.ids.begin(), with.ids.end(), sys.begin(), sys.end());
  const auto at_q = std::search(with.ids.begin(), with.ids.end(), question.begin(), question.end());
  REQUIRE(at_sys != with.ids.end());
  REQUIRE(at_q != with.ids.end());
  CHECK(at_sys < at_q);
  CHECK(std::search(plain.ids.begin(), plain.ids.end(), sys.begin(), sys.end()) == plain.ids.end());
  CHECK(with.ids.size() > plain.ids.size() + sys.size());  // the system turn's markers too
}

TEST_CASE("a row that stops leaves the batch without changing the others", "[generation]") {
  Fixture f;
  // Generation lengths differ per row: 1 token for the first call, then more.
  std::vector<Prompt> prompts = {f.builder.build("What is 1 plus 2?", {}),
                                 f.builder.build("<image>\nWhat is written?", {f.img_a})};
  mm::gen::GenerateOptions one, many;
  one.max_new_tokens = 1;
  many.max_new_tokens = 6;
  auto a = mm::gen::generate(f.model, f.tok, prompts, one);
  auto b = mm::gen::generate(f.model, f.tok, prompts, many);
  for (size_t i = 0; i < prompts.size(); ++i) {
    REQUIRE(a[i].output_ids.size() == 1);
    CHECK(b[i].output_ids.front() == a[i].output_ids.front());
    if (a[i].stop == "length") CHECK(a[i].text == f.tok.decode(a[i].output_ids));
  }
  CHECK(mm::gen::generate(f.model, f.tok, {}, many).empty());
  mm::gen::GenerateOptions zero;
  zero.max_new_tokens = 0;
  CHECK_THROWS(mm::gen::generate(f.model, f.tok, prompts, zero));
}

TEST_CASE("perplexity scoring equals exp(mean NLL) from the model's own loss", "[generation]") {
  Fixture f;
  struct Case {
    std::string q;
    std::vector<std::string> images;
    std::string answer;
  };
  std::vector<Case> cases = {
      {"What is 3 plus 4?", {}, "The answer is 7."},
      {"<image>\nDescribe the image.", {f.img_b}, "A red circle in the top left."},
      {"", {}, "A green square in the center. total: 120, date: 2024-03-12"},  // text document
  };
  std::vector<Prompt> prompts;
  for (const auto& c : cases) prompts.push_back(f.builder.build_scored(c.q, c.images, c.answer));
  const auto logprobs = mm::gen::score_answers(f.model, prompts);  // batched, right-padded
  REQUIRE(logprobs.size() == cases.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    const Prompt& p = prompts[i];
    const auto answer_ids = f.tok.encode(cases[i].answer);
    REQUIRE(static_cast<int64_t>(p.ids.size()) - p.answer_begin == static_cast<int64_t>(answer_ids.size()));
    CHECK(std::vector<int32_t>(p.ids.begin() + p.answer_begin, p.ids.end()) == answer_ids);
    REQUIRE(logprobs[i].size() == answer_ids.size());
    // Independent path: the model's loss with labels on the answer tokens only.
    auto batch = single_batch(p.ids, p, f.model->tokens_per_tile());
    auto labels = torch::full_like(batch.input_ids, -100);
    for (size_t t = p.answer_begin; t < p.ids.size(); ++t) labels[0][static_cast<int64_t>(t)] = p.ids[t];
    batch.labels = labels;
    auto out = f.model->forward(batch);
    REQUIRE(out.loss_count.item<int64_t>() == static_cast<int64_t>(answer_ids.size()));
    const double nll = out.loss_sum.item<double>() / out.loss_count.item<double>();
    CHECK(mm::eval::perplexity(logprobs[i]) == Approx(std::exp(nll)).epsilon(1e-4));
    for (double lp : logprobs[i]) CHECK(lp <= 0.0);
  }
  // The text document starts right after bos: [bos] answer.
  CHECK(prompts[2].answer_begin == 1);
  CHECK(prompts[2].ids.front() == f.tok.bos_id());
  // The chat items end with the answer (no turn_end, no eos) after the assistant prefix.
  const auto ap = f.tok.encode(f.tok.config().assistant_prefix);
  CHECK(std::vector<int32_t>(prompts[0].ids.begin() + prompts[0].answer_begin - ap.size(),
                             prompts[0].ids.begin() + prompts[0].answer_begin) == ap);
  CHECK_THROWS(mm::gen::score_answers(f.model, {f.builder.build("x", {})}));  // not a scored prompt
}

namespace {

// A tiny eval set: every category, several metrics, a perplexity benchmark and one bad line.
std::string write_eval_set(const mm::test::TempDir& dir) {
  write_png(dir, "set/img/0.png", 64, 64, 10);
  write_png(dir, "set/img/1.png", 120, 64, 11);
  write_png(dir, "set/img/2.png", 64, 128, 12);
  using J = nlohmann::json;
  std::vector<J> lines = {
      {{"id", "g1"},
       {"question", "<image>\nWhat shape is it?"},
       {"images", {"img/0.png"}},
       {"answers", {"circle"}},
       {"category", "general"},
       {"benchmark", "shapes"},
       {"metric", "exact_match"}},
      {{"id", "g2"},
       {"question", "<image>\nIs it red?"},
       {"images", {"img/1.png"}},
       {"answers", {"yes"}},
       {"category", "general"},
       {"benchmark", "shapes"},
       {"metric", "exact_match"}},
      {{"id", "g3"},
       {"question", "<image>\nHow many?"},
       {"images", {"img/2.png"}},
       {"answers", {"2"}},
       {"category", "general"},
       {"benchmark", "shapes"},
       {"metric", "exact_match"}},
      {{"id", "t1"},
       {"question", "<image>\nWhat is written?"},
       {"images", {"img/1.png"}},
       {"answers", {"total 12"}},
       {"category", "text-rich"},
       {"benchmark", "ocr"},
       {"metric", "anls"}},
      {{"id", "k1"},
       {"question", "<image>\nWhich is a mammal?\nA. frog\nB. whale"},
       {"images", {"img/0.png"}},
       {"choices", {"frog", "whale"}},
       {"answers", {"B"}},
       {"category", "knowledge"},
       {"benchmark", "sqa"},
       {"metric", "multiple_choice"}},
      {{"id", "r1"},
       {"question", "<image>\nWhere is the star?"},
       {"images", {"img/2.png"}},
       {"answers", {"[10, 20, 300, 400]"}},
       {"category", "refer&ground"},
       {"benchmark", "ground"},
       {"metric", "iou@0.5"}},
      {{"id", "m1"},
       {"question", "<image><image>\nSame colour?"},
       {"images", {"img/0.png", "img/1.png"}},
       {"answers", {"no"}},
       {"category", "multi-image"},
       {"benchmark", "pairs"},
       {"metric", "exact_match"}},
      {{"id", "p1"},
       {"question", ""},
       {"answers", {"A red circle in the top left."}},
       {"category", "text-only"},
       {"benchmark", "text_ppl"},
       {"metric", "perplexity"}},
      {{"id", "p2"},
       {"question", "What is 2 plus 3?"},
       {"answers", {"The answer is 5."}},
       {"category", "text-only"},
       {"benchmark", "text_ppl"},
       {"metric", "perplexity"}},
  };
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  text += "{\"id\": \"bad\", \"question\": \"<image>\"}\n";  // malformed: skipped and listed
  return dir.write("set/eval.jsonl", text);
}

}  // namespace

TEST_CASE("evaluate_model scores every category of an eval set and writes the report", "[generation]") {
  Fixture f;
  mm::RunConfig cfg = f.cfg;
  cfg.eval.sets = {write_eval_set(f.dir)};
  cfg.eval.batch_size = 2;
  cfg.eval.max_new_tokens = 4;
  f.model->train();  // evaluate_model switches to eval() and back
  std::vector<mm::gen::EvalProgress> calls;
  mm::gen::EvaluateOptions options;
  options.progress = [&](const mm::gen::EvalProgress& p) { calls.push_back(p); };
  const std::string out = mm::gen::eval_report_path(f.dir.file("run"), 10);
  CHECK(out == f.dir.file("run") + "/eval/step_000010.json");
  auto report = mm::gen::evaluate_model_to(f.model, cfg, f.tok, out, options);
  CHECK(f.model->is_training());

  for (const char* c : {"general", "text-rich", "knowledge", "refer&ground", "multi-image"}) {
    INFO(c);
    REQUIRE(report.categories.count(c) == 1);
    CHECK(report.categories.at(c) >= 0.0);
    CHECK(report.categories.at(c) <= 1.0);
  }
  CHECK(report.categories.count("text-only") == 0);  // perplexity enters no category mean
  REQUIRE(report.mmbase.has_value());
  REQUIRE(report.benchmarks.size() == 6);
  REQUIRE(report.skipped.size() == 1);
  CHECK_THAT(report.skipped[0], Catch::Contains("eval.jsonl:10"));
  for (const auto& b : report.benchmarks) {
    if (b.name == "text_ppl") {
      CHECK(b.n == 2);
      CHECK(std::isfinite(b.score));
      CHECK(b.score > 1.0);
    }
    if (b.name == "shapes") CHECK(b.n == 3);
  }
  // The text_ppl score is the corpus perplexity of the two answers.
  mm::gen::PromptBuilder builder(cfg, f.tok, f.model->tokens_per_tile());
  f.model->eval();
  auto lp = mm::gen::score_answers(f.model, {builder.build_scored("", {}, "A red circle in the top left."),
                                             builder.build_scored("What is 2 plus 3?", {}, "The answer is 5.")});
  for (const auto& b : report.benchmarks)
    if (b.name == "text_ppl") CHECK(b.score == Approx(mm::eval::corpus_perplexity(lp)).epsilon(1e-6));
  // The examples are the greedy answers.
  mm::gen::GenerateOptions go;
  go.max_new_tokens = 4;
  auto g = mm::gen::generate(f.model, f.tok,
                             {builder.build("<image>\nWhat shape is it?", {f.dir.file("set/img/0.png")})}, go);
  bool seen = false;
  for (const auto& b : report.benchmarks)
    for (const auto& e : b.examples)
      if (e.id == "g1") {
        CHECK(e.prediction == g[0].text);
        seen = true;
      }
  CHECK(seen);

  // Progress: after every batch, ending with done == total for each benchmark.
  std::map<std::string, int64_t> last;
  for (const auto& p : calls) {
    CHECK(p.benchmarks == 6);
    CHECK(p.done <= p.total);
    last[p.benchmark] = p.done;
  }
  CHECK(last.size() == 6);
  CHECK(last["shapes"] == 3);
  CHECK(calls.size() == 7);  // shapes: 2 batches, the other five: 1 each

  REQUIRE(fs::exists(out));
  REQUIRE(fs::exists(f.dir.file("run") + "/eval/step_000010.md"));
  std::ifstream in(out);
  auto j = nlohmann::json::parse(in);
  CHECK(j["categories"].contains("refer&ground"));
  CHECK(j["benchmarks"].contains("text_ppl"));
}

TEST_CASE("load_checkpoint_tokenizer prefers the tokenizer.model the checkpoint carries", "[generation][tokenizer]") {
  mm::test::TempDir dir;
  const auto& shared = mm::test::test_tokenizer();
  // The config's path now holds another vocabulary (as after re-running `mmtrain data synth`).
  const std::string other = mm::tok::train_tokenizer({mm::test::write_tokenizer_corpus(dir.file(""))},
                                                     dir.file("other"), 390, mm::TokenizerConfig{});
  const auto other_vocab = mm::tok::Tokenizer::load(mm::TokenizerConfig{}, other).vocab_size();
  REQUIRE(other_vocab != shared.vocab_size());
  mm::RunConfig cfg;
  cfg.tokenizer.model_path = other;
  const std::string ckpt = dir.file("ckpt");
  std::filesystem::create_directories(ckpt);

  SECTION("carried: the checkpoint's vocabulary, not the config's") {
    dir.write("ckpt/tokenizer.model", mm::io::read_file(shared.config().model_path));
    const auto tok = mm::load_checkpoint_tokenizer(cfg, ckpt);
    CHECK(tok.vocab_size() == shared.vocab_size());
    CHECK(tok.config().model_path == ckpt + "/tokenizer.model");
    CHECK(tok.encode("What is 3 plus 4?") == shared.encode("What is 3 plus 4?"));
  }
  SECTION("not carried (an old checkpoint): the config's path") {
    const auto tok = mm::load_checkpoint_tokenizer(cfg, ckpt);
    CHECK(tok.vocab_size() == other_vocab);
    CHECK(tok.config().model_path == other);
  }
  SECTION("neither: one line naming both") {
    cfg.tokenizer.model_path = dir.file("gone.model");
    CHECK_THROWS_WITH(mm::load_checkpoint_tokenizer(cfg, ckpt),
                      Catch::Contains(ckpt + "/tokenizer.model") && Catch::Contains("gone.model"));
  }
}

namespace {
std::string run_command(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  *rc = ::pclose(p);
  return out;
}
}  // namespace

TEST_CASE("mmtrain generate --json, mmtrain eval and mmtrain probe on a saved checkpoint", "[generation][cli]") {
  if (!fs::exists(MM_MMTRAIN)) {
    WARN("skipped: " MM_MMTRAIN " is not built (cmake --build BUILD --target mmtrain)");
    return;
  }
  Fixture f;
  // Save the model the way the trainer does: the config names the tokenizer, the checkpoint carries it.
  mm::RunConfig cfg = f.cfg;
  cfg.tokenizer.model_path = f.dir.file("tok.model");
  { std::ofstream(cfg.tokenizer.model_path, std::ios::binary) << f.tok.model_bytes(); }
  cfg.run_dir = f.dir.file("run");
  mm::CheckpointManager mgr(f.dir.file("run/checkpoints"));
  mgr.save(7, mm::model_state(*f.model), {}, {{"step", 7}}, mm::dump_yaml(cfg),
           mm::io::read_file(cfg.tokenizer.model_path));

  int rc = 0;
  const std::string gen_cmd = std::string(MM_MMTRAIN) + " generate --checkpoint " + f.dir.file("run") +
                              " --prompt 'What is in the picture?' --image " + f.img_b +
                              " --max-new-tokens 5 --json 2>/dev/null";
  const std::string text = run_command(gen_cmd, &rc);
  REQUIRE(rc == 0);
  auto j = nlohmann::json::parse(text);
  Prompt p = f.builder.build("<image>\nWhat is in the picture?", {f.img_b});
  CHECK(j["prompt_ids"].get<std::vector<int32_t>>() == p.ids);
  mm::gen::GenerateOptions go;
  go.max_new_tokens = 5;
  auto g = mm::gen::generate(f.model, f.tok, {p}, go).at(0);
  CHECK(j["output_ids"].get<std::vector<int32_t>>() == g.output_ids);
  CHECK(j["text"].get<std::string>() == g.text);

  // --batch: a JSONL of prompts (images relative to the file), one JSON line out per prompt, the
  // same tokens as decoding them one by one; a bad line is one error naming file:line.
  fs::copy_file(f.img_b, f.dir.file("batch_b.png"));
  f.dir.write("batch.jsonl",
              "{\"id\": \"q1\", \"prompt\": \"What is in the picture?\", \"images\": [\"batch_b.png\"]}\n\n"
              "{\"prompt\": \"What is 1 plus 2?\"}\n");
  const std::string lines = run_command(std::string(MM_MMTRAIN) + " generate --checkpoint " + f.dir.file("run") +
                                            " --batch " + f.dir.file("batch.jsonl") + " --max-new-tokens 5 2>/dev/null",
                                        &rc);
  REQUIRE(rc == 0);
  std::istringstream batch_out(lines);
  std::string l1, l2;
  REQUIRE(std::getline(batch_out, l1));
  REQUIRE(std::getline(batch_out, l2));
  const auto b1 = nlohmann::json::parse(l1), b2 = nlohmann::json::parse(l2);
  CHECK(b1["id"] == "q1");
  CHECK(b1["text"].get<std::string>() == g.text);  // the same prompt and image as the --prompt run above
  CHECK(b2["id"] == "3");                          // no id: the line number
  CHECK(b2["text"].get<std::string>() ==
        mm::gen::generate(f.model, f.tok, {f.builder.build("What is 1 plus 2?", {})}, go).at(0).text);
  f.dir.write("bad_batch.jsonl", "{\"prompt\": \"ok\"}\n{\"question\": \"no prompt key\"}\n");
  const std::string bad = run_command(std::string(MM_MMTRAIN) + " generate --checkpoint " + f.dir.file("run") +
                                          " --batch " + f.dir.file("bad_batch.jsonl") + " 2>&1",
                                      &rc);
  CHECK(rc != 0);
  CHECK_THAT(bad, Catch::Contains(f.dir.file("bad_batch.jsonl") + ":2: key \"prompt\": expected a string"));

  mm::RunConfig ecfg;
  ecfg.eval.sets = {write_eval_set(f.dir)};
  ecfg.eval.max_new_tokens = 3;
  { std::ofstream(f.dir.file("eval.yaml")) << mm::dump_yaml(ecfg); }
  const std::string table =
      run_command(std::string(MM_MMTRAIN) + " eval --config " + f.dir.file("eval.yaml") + " --checkpoint " +
                      f.dir.file("run/checkpoints") + " --set eval.batch_size=3 2>/dev/null",
                  &rc);
  REQUIRE(rc == 0);
  CHECK_THAT(table, Catch::Contains("refer&ground") && Catch::Contains("text_ppl"));
  CHECK(fs::exists(f.dir.file("run/eval/step_000007.json")));
  CHECK(fs::exists(f.dir.file("run/eval/step_000007.md")));

  // mmtrain probe on a captions source of the saved model's preprocessing; --source names a source.
  mm::RunConfig pcfg = f.cfg;
  // Relative to the captions file: an absolute image path breaks the default path policy.
  {
    std::ofstream caps(f.dir.file("caps.jsonl"));
    for (int i = 0; i < 6; ++i) caps << "{\"id\":\"c" << i << "\",\"image\":\"a.png\",\"caption\":\"a red circle.\"}\n";
  }
  mm::SourceConfig caps;
  caps.name = "caps";
  caps.format = "captions";
  caps.path = f.dir.file("caps.jsonl");
  pcfg.data.sources = {caps};
  { std::ofstream(f.dir.file("probe.yaml")) << mm::dump_yaml(pcfg); }
  const std::string probe_cmd = std::string(MM_MMTRAIN) + " probe --config " + f.dir.file("probe.yaml") +
                                " --checkpoint " + f.dir.file("run") + " --batches 1 --out " + f.dir.file("probe.json");
  const std::string probe_table = run_command(probe_cmd + " --source caps 2>/dev/null", &rc);
  REQUIRE(rc == 0);
  CHECK_THAT(probe_table, Catch::Contains("| words | count | own images | other images |"));
  const auto pj = nlohmann::json::parse(mm::io::read_file(f.dir.file("probe.json")));
  CHECK(pj["step"].get<int64_t>() == 7);
  CHECK(pj["groups"]["colour"]["words"].get<int64_t>() == pj["images"].get<int64_t>());  // "red" once per caption
  const std::string probe_err = run_command(probe_cmd + " --source nope 2>&1", &rc);
  CHECK(rc != 0);
  CHECK_THAT(probe_err, Catch::Contains("--source nope") && Catch::Contains("caps"));

  // A user error: one line, non-zero exit.
  const std::string err = run_command(
      std::string(MM_MMTRAIN) + " generate --checkpoint " + f.dir.file("nowhere") + " --prompt hi 2>&1", &rc);
  CHECK(rc != 0);
  CHECK_THAT(err, Catch::Contains("nowhere"));
}

// Timing (hidden; run with: test_generation "[.bench]"): the full debug model, 8 prompts, 64 new
// tokens, the KV cache against recomputing the sequence each step.
TEST_CASE("generation timing on the debug model", "[.bench]") {
  mm::test::TempDir dir;
  mm::RunConfig cfg = mm::load_run_config(std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml",
                                          {"image.tile_size=64", "image.nmin=1", "image.nmax=4"});
  const auto& tok = mm::test::test_tokenizer();
  auto model = test_model(cfg);
  mm::gen::PromptBuilder builder(cfg, tok, model->tokens_per_tile());
  const std::string img = write_png(dir, "x.png", 128, 96, 5);
  std::vector<Prompt> prompts;
  for (int i = 0; i < 8; ++i)
    prompts.push_back(i % 2 ? builder.build("<image>\nWhat is " + std::to_string(i) + " plus 4?", {img})
                            : builder.build("What is " + std::to_string(i) + " plus 4? Explain.", {}));
  mm::gen::GenerateOptions opt;
  opt.max_new_tokens = 64;
  mm::Stopwatch watch;
  auto out = mm::gen::generate(model, tok, prompts, opt);
  const double cached = watch.restart();
  size_t n = 0;
  for (const auto& g : out) n += g.output_ids.size();
  for (const auto& p : prompts) greedy_recompute(model, tok, p, opt.max_new_tokens);
  const double full = watch.seconds();
  WARN("8 prompts (" << prompts[0].ids.size() << ".." << prompts[1].ids.size() << " tokens), " << n
                     << " new tokens: KV cache batched " << cached << " s (" << n / cached
                     << " tok/s); recompute one by one " << full << " s (" << n / full << " tok/s)");
}

// Writes a random-init debug checkpoint using the synthetic world's tokenizer, for trying
// `mmtrain generate` / `mmtrain eval` by hand (hidden; MM_WORLD=runs/world MM_OUT=DIR).
TEST_CASE("write a random debug checkpoint for the synthetic world", "[.world]") {
  const char* world = std::getenv("MM_WORLD");
  const char* out = std::getenv("MM_OUT");
  if (world == nullptr || out == nullptr) {
    WARN("set MM_WORLD (a `mmtrain data synth` folder) and MM_OUT");
    return;
  }
  mm::RunConfig cfg = mm::load_run_config(
      std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml",
      {"image.tile_size=64", "image.nmin=1", "image.nmax=4",
       std::string("tokenizer.model_path=") + world + "/tokenizer/spm.model", std::string("run_dir=") + out + "/run"});
  auto model = test_model(cfg);
  mm::CheckpointManager mgr(std::string(out) + "/run/checkpoints");
  WARN("saved " << mgr.save(3, mm::model_state(*model), {}, {{"step", 3}}, mm::dump_yaml(cfg)));
}
