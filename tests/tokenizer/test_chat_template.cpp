// Tests of the chat template, image placeholder expansion and label masks (character-exact).
#include <catch2/catch.hpp>

#include "data_pipeline/sample.h"  // RawSample: the samples the template renders
#include "tests/tokenizer/tokenizer_fixture.h"
#include "tokenizer/sample_encoder.h"

using mm::data::RawSample;
using mm::data::Role;
using mm::tok::ImageLayout;
using mm::tok::Indicators;
using mm::tok::kIgnoreIndex;
using mm::tok::SampleEncoder;

namespace {

RawSample make_sample(std::vector<mm::data::Turn> turns, int images) {
  RawSample s;
  s.source = "test";
  s.id = "line 1";
  s.turns = std::move(turns);
  s.images.resize(images);
  return s;
}

std::vector<ImageLayout> single_tiles(int n, Indicators mode = Indicators::None) {
  std::vector<ImageLayout> out;
  for (int k = 0; k < n; ++k) out.push_back(mm::tok::make_image_layout(mm::TokenizerConfig{}, mode, k, 0, 0, true));
  return out;
}

// Labels are the ids themselves where there is loss, and image slots never carry loss.
void check_label_invariants(const mm::tok::EncodedSample& e, const mm::tok::Tokenizer& tok) {
  REQUIRE(e.labels.size() == e.input_ids.size());
  for (size_t t = 0; t < e.labels.size(); ++t) {
    if (e.labels[t] != kIgnoreIndex) CHECK(e.labels[t] == e.input_ids[t]);
    if (e.input_ids[t] == tok.image_id()) CHECK(e.labels[t] == kIgnoreIndex);
  }
}

}  // namespace

TEST_CASE("SFT conversation: loss exactly on assistant text and its end marker", "[tokenizer][template]") {
  const auto& tok = mm::test::test_tokenizer();
  const SampleEncoder enc(tok, 2);
  const RawSample s = make_sample({{Role::System, "You are helpful."},
                                   {Role::User, "<image>\nWhat shape is this?"},
                                   {Role::Assistant, "A red circle."},
                                   {Role::User, "And the colour?"},
                                   {Role::Assistant, "Red."}},
                                  1);
  const auto e = enc.encode(s, single_tiles(1));
  check_label_invariants(e, tok);
  CHECK(mm::tok::render_with_loss(tok, e) ==
        "<s><|system|>You are helpful.<|end|><|user|><image><image>\nWhat shape is this?<|end|>"
        "<|assistant|>[[A red circle.<|end|>]]<|user|>And the colour?<|end|><|assistant|>[[Red.<|end|></s>]]");
  // The loss-carrying tokens, decoded, are exactly the assistant answers with their end markers.
  std::vector<int32_t> loss_ids;
  for (int32_t l : e.labels)
    if (l != kIgnoreIndex) loss_ids.push_back(l);
  CHECK(tok.decode(loss_ids) == "A red circle.<|end|>Red.<|end|>");
  CHECK(e.loss_tokens() == static_cast<int64_t>(tok.encode("A red circle.").size() + tok.encode("Red.").size()) + 3);
  CHECK(e.input_ids.front() == tok.bos_id());
  CHECK(e.input_ids.back() == tok.eos_id());
  REQUIRE(e.image_slots.size() == 1);
  CHECK(e.image_slots[0].tile_starts.size() == 1);
  CHECK(e.image_slots[0].end - e.image_slots[0].begin == 2);
}

TEST_CASE("Text-role samples carry loss on their text: caption, interleaved, text-only", "[tokenizer][template]") {
  const auto& tok = mm::test::test_tokenizer();
  const SampleEncoder enc(tok, 2);
  const auto caption = enc.encode(make_sample({{Role::Text, "<image>A blue star."}}, 1), single_tiles(1));
  CHECK(mm::tok::render_with_loss(tok, caption) == "<s><image><image>[[A blue star.</s>]]");
  const auto inter = enc.encode(make_sample({{Role::Text, "Once there was a square.<image>Then a circle.<image>"}}, 2),
                                single_tiles(2));
  CHECK(mm::tok::render_with_loss(tok, inter) ==
        "<s>[[Once there was a square.]]<image><image>[[Then a circle.]]<image><image>[[</s>]]");
  CHECK(inter.image_slots[1].begin ==
        inter.image_slots[0].end + static_cast<int64_t>(tok.encode("Then a circle.").size()));
  const auto text = enc.encode(make_sample({{Role::Text, "What is 3 plus 4? The answer is 7."}}, 0), {});
  CHECK(mm::tok::render_with_loss(tok, text) == "<s>[[What is 3 plus 4? The answer is 7.</s>]]");
  CHECK(text.loss_tokens() == text.size() - 1);  // all but bos
  check_label_invariants(caption, tok);
  check_label_invariants(inter, tok);
}

TEST_CASE("plain template has no role markers and bos/eos are switchable", "[tokenizer][template]") {
  mm::TokenizerConfig cfg;
  cfg.chat_template = "plain";
  cfg.add_bos = false;
  const auto tok = mm::tok::Tokenizer::load(cfg, mm::test::test_tokenizer().origin());
  const SampleEncoder enc(tok, 1);
  const auto e =
      enc.encode(make_sample({{Role::User, "Describe.<image>"}, {Role::Assistant, "A square."}}, 1), single_tiles(1));
  CHECK(mm::tok::render_with_loss(tok, e) == "Describe.<image>[[A square.</s>]]");
  cfg.chat_template = "fancy";
  const auto bad = mm::tok::Tokenizer::load(cfg, mm::test::test_tokenizer().origin());
  CHECK_THROWS_WITH(SampleEncoder(bad, 1).encode(make_sample({{Role::Text, "x"}}, 0), {}),
                    Catch::Contains("fancy") && Catch::Contains("chat | plain"));
}

TEST_CASE("placeholder and layout count mismatches are quarantine-able SampleErrors", "[tokenizer][template]") {
  const auto& tok = mm::test::test_tokenizer();
  const SampleEncoder enc(tok, 2);
  const auto two_images_one_placeholder = make_sample({{Role::User, "<image> what?"}, {Role::Assistant, "x"}}, 2);
  CHECK_THROWS_AS(enc.encode(two_images_one_placeholder, single_tiles(2)), mm::tok::SampleError);
  CHECK_THROWS_WITH(enc.encode(two_images_one_placeholder, single_tiles(2)), "1 <image> placeholder(s) but 2 image(s)");
  const auto one = make_sample({{Role::User, "<image> what?"}, {Role::Assistant, "x"}}, 1);
  CHECK_THROWS_WITH(enc.encode(one, single_tiles(3)), "1 image(s) but 3 tile layout(s)");
  CHECK_THROWS_WITH(enc.encode(make_sample({}, 0), {}), "sample has no turns");
}

TEST_CASE("index indicators: (k,i,j) before each tile, overview (k,0,0) last", "[tokenizer][template][layout]") {
  const auto& tok = mm::test::test_tokenizer();
  const mm::TokenizerConfig cfg;
  const auto grid = mm::tok::make_image_layout(cfg, Indicators::Index, 0, 2, 2, true);
  CHECK(
      grid.describe() ==
      "<img_0><row_1><col_1>T<img_0><row_1><col_2>T<img_0><row_2><col_1>T<img_0><row_2><col_2>T<img_0><row_0><col_0>T");
  CHECK(grid.tiles() == 5);
  const auto second = mm::tok::make_image_layout(cfg, Indicators::Index, 1, 0, 0, true);
  CHECK(second.describe() == "<img_1><row_0><col_0>T");

  const SampleEncoder enc(tok, 2);
  CHECK(enc.image_length(grid) == 5 * 2 + 5 * 3);
  const auto e =
      enc.encode(make_sample({{Role::User, "<image><image>Compare."}, {Role::Assistant, "Same."}}, 2), {grid, second});
  check_label_invariants(e, tok);
  CHECK(mm::tok::render_with_loss(tok, e) ==
        "<s><|user|><img_0><row_1><col_1><image><image><img_0><row_1><col_2><image><image>"
        "<img_0><row_2><col_1><image><image><img_0><row_2><col_2><image><image><img_0><row_0><col_0><image><image>"
        "<img_1><row_0><col_0><image><image>Compare.<|end|><|assistant|>[[Same.<|end|></s>]]");
  REQUIRE(e.image_slots.size() == 2);
  const auto& s0 = e.image_slots[0];
  CHECK(s0.begin == 2);  // after <s><|user|>
  CHECK(s0.end == s0.begin + 25);
  CHECK(s0.tile_starts == std::vector<int64_t>{5, 10, 15, 20, 25});
  for (int64_t start : s0.tile_starts) {
    CHECK(e.input_ids[start] == tok.image_id());
    CHECK(e.input_ids[start + 1] == tok.image_id());
    CHECK(e.input_ids[start - 1] != tok.image_id());  // each tile preceded by its column indicator
  }
  CHECK(e.input_ids[s0.tile_starts[1] - 3] == tok.piece_to_id("<img_0>"));
  CHECK(e.input_ids[s0.tile_starts[1] - 2] == tok.piece_to_id("<row_1>"));
  CHECK(e.input_ids[s0.tile_starts[1] - 1] == tok.piece_to_id("<col_2>"));
  CHECK(e.image_slots[1].begin == s0.end);
  CHECK(e.image_slots[1].tile_starts == std::vector<int64_t>{s0.end + 3});
  CHECK(e.tiles() == 6);
  CHECK_THROWS_WITH(mm::tok::make_image_layout(cfg, Indicators::Index, 32, 0, 0, true),
                    Catch::Contains("index_max_images = 32"));
}

TEST_CASE("seps indicators: ',' between columns, <n> between rows, ':' before the overview",
          "[tokenizer][template][layout]") {
  const auto& tok = mm::test::test_tokenizer();
  const mm::TokenizerConfig cfg;
  const auto grid = mm::tok::make_image_layout(cfg, Indicators::Seps, 0, 2, 3, true);
  CHECK(grid.describe() == "T,T,T<n>T,T,T:T");
  CHECK(grid.render("x", 3) == "xxx,xxx,xxx<n>xxx,xxx,xxx:xxx");  // each tile = tokens_per_tile slots
  CHECK(mm::tok::make_image_layout(cfg, Indicators::Seps, 0, 0, 0, true).describe() == "T");
  CHECK(mm::tok::make_image_layout(cfg, Indicators::Seps, 0, 1, 2, false).describe() == "T,T");
  CHECK(mm::tok::make_image_layout(cfg, Indicators::None, 0, 2, 2, true).describe() == "TTTTT");
  const SampleEncoder enc(tok, 3);
  CHECK(enc.image_length(grid) == 7 * 3 + 4 + 1 + 1);
  const auto e = enc.encode(make_sample({{Role::Text, "<image>"}}, 1), {grid});
  const auto& s = e.image_slots[0];
  REQUIRE(s.tile_starts.size() == 7);
  CHECK(e.input_ids[s.tile_starts[1] - 1] == tok.piece_to_id(","));
  CHECK(e.input_ids[s.tile_starts[3] - 1] == tok.piece_to_id("<n>"));
  CHECK(e.input_ids[s.tile_starts[6] - 1] == tok.piece_to_id(":"));
  CHECK(mm::tok::parse_indicators("seps") == Indicators::Seps);
  CHECK_THROWS_WITH(mm::tok::parse_indicators("dots"), Catch::Contains("none | index | seps"));
}
