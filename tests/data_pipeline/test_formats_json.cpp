// The JSON formats (captions, interleaved, llava, text): samples, ids, roots, every quarantine
// reason, JSON array vs JSONL, and the registry.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "data_pipeline/formats/registry.h"
#include "test_formats_util.h"

using namespace mm;
using namespace mm::data;
using mm::test::get_error_kind;
using mm::test::kinds_of;
using mm::test::source_config;
using mm::test::TempDir;
using mm::test::write_file;
using mm::test::write_lines;

TEST_CASE("registry lists the formats and rejects an unknown one with the valid names", "[formats]") {
  CHECK(source_format_names() == std::vector<std::string>{"captions", "interleaved", "llava", "text", "wds"});
  TempDir dir;
  write_lines(dir.file("t.jsonl"), {R"({"text": "hi"})"});
  try {
    open_source(source_config("s", "parquet", dir.file("t.jsonl")));
    FAIL("expected an error");
  } catch (const mm::Error& e) {
    const std::string m = e.what();
    CHECK(m.find("unknown format 'parquet'") != std::string::npos);
    CHECK(m.find("captions, interleaved, llava, text, wds") != std::string::npos);
  }
  CHECK_THROWS_WITH(open_source(source_config("s", "text", dir.file("missing.jsonl"))),
                    Catch::Contains("missing.jsonl does not exist"));
}

TEST_CASE("captions JSONL: samples, ids, roots relative to the file's folder", "[formats]") {
  TempDir dir;
  write_file(dir.file("data/img/a.jpg"), "A");
  write_file(dir.file("elsewhere/img/b.jpg"), "B");
  write_file(dir.file("abs.png"), "C");
  write_lines(dir.file("data/caps.jsonl"),
              {
                  R"({"id": "first", "image": "img/a.jpg", "caption": "a red square"})",
                  "",
                  R"({"image": ")" + dir.file("abs.png") + R"(", "caption": "absolute path"})",
                  R"({"id": 7, "image": "img/a.jpg", "caption": "box [10, 20, 300, 400] is fine"})",
              });
  // An absolute image path breaks the default path policy; allow_outside_root accepts it.
  auto strict = open_source(source_config("caps", "captions", dir.file("data/caps.jsonl")));
  CHECK(strict->size() == 2);
  CHECK(kinds_of(strict->open_issues()) == std::map<std::string, int>{{"image_path", 1}});
  SourceConfig lax = source_config("caps", "captions", dir.file("data/caps.jsonl"));
  lax.allow_outside_root = true;
  auto src = open_source(lax);
  REQUIRE(src->size() == 3);
  CHECK(src->open_issues().empty());
  RawSample s = src->get(0);
  CHECK(s.source == "caps");
  CHECK(s.category == "general");
  CHECK(s.id == "first");
  REQUIRE(s.turns.size() == 1);
  CHECK(s.turns[0].role == Role::Text);
  CHECK(s.turns[0].text == "<image>\na red square");
  REQUIRE(s.images.size() == 1);
  CHECK(s.images[0].path == dir.file("data/img/a.jpg"));
  CHECK(s.images[0].offset == -1);
  // No "id": "line N" (1-based, counting the blank line).
  CHECK(src->get(1).id == "line 3");
  CHECK(src->get(1).images[0].path == dir.file("abs.png"));
  CHECK(src->get(2).id == "7");

  // An explicit root replaces the file's folder.
  write_lines(dir.file("data/caps2.jsonl"), {R"({"image": "img/b.jpg", "caption": "x"})"});
  SourceConfig c = source_config("caps2", "captions", dir.file("data/caps2.jsonl"));
  c.root = dir.file("elsewhere");
  c.category = "text-rich";
  auto src2 = open_source(c);
  CHECK(src2->get(0).images[0].path == dir.file("elsewhere/img/b.jpg"));
  CHECK(src2->get(0).category == "text-rich");
}

TEST_CASE("captions: every malformed record is quarantined, the good ones stay", "[formats][quarantine]") {
  TempDir dir;
  write_file(dir.file("ok.jpg"), "x");
  write_lines(dir.file("caps.jsonl"),
              {
                  R"({"image": "ok.jpg", "caption": "good one"})",
                  R"({"image": "ok.jpg", "caption": "broken" )",                      // bad_json
                  R"({"image": "ok.jpg"})",                                           // missing_field
                  R"({"image": "ok.jpg", "caption": 5})",                             // wrong_type
                  R"(["not", "an", "object"])",                                       // wrong_type
                  R"({"image": "ok.jpg", "caption": "   "})",                         // empty_text
                  R"({"image": "ok.jpg", "caption": "the cat [12, 40, 1000, 80]"})",  // box_out_of_range
                  R"({"image": "ok.jpg", "caption": "flipped [500, 40, 100, 80]"})",  // box_out_of_range (x1 > x2)
                  R"({"image": "ok.jpg", "caption": "two <image> tags"})",            // placeholder_mismatch
                  R"({"id": "gone", "image": "nope.jpg", "caption": "file missing"})",
                  R"({"image": "ok.jpg", "caption": "point [999, 0] ok"})",
              });
  Quarantine q;
  auto src = open_source(source_config("caps", "captions", dir.file("caps.jsonl")), &q);
  REQUIRE(src->size() == 3);
  CHECK(kinds_of(src->open_issues()) == std::map<std::string, int>{{"bad_json", 1},
                                                                   {"missing_field", 1},
                                                                   {"wrong_type", 2},
                                                                   {"empty_text", 1},
                                                                   {"box_out_of_range", 2},
                                                                   {"placeholder_mismatch", 1}});
  CHECK(q.size() == src->open_issues().size());
  const auto& first = src->open_issues().front();
  CHECK(first.source == "caps");
  CHECK(first.id == "line 2");
  CHECK(first.reason.find("caps.jsonl line 2: bad JSON") != std::string::npos);
  CHECK(src->open_issues()[1].reason.find("missing \"caption\"") != std::string::npos);
  // The missing image file is found when the record is read.
  CHECK(get_error_kind(*src, 0).empty());
  CHECK(get_error_kind(*src, 1) == "missing_image");
  CHECK(get_error_kind(*src, 2).empty());
  try {
    src->get(1);
  } catch (const RecordError& e) {
    CHECK(e.entry().id == "gone");
    CHECK(e.entry().reason.find("nope.jpg does not exist") != std::string::npos);
  }
  CHECK_THROWS_AS(src->get(3), mm::Error);  // out of range is a programming error, not a record
}

TEST_CASE("image path policy: NUL, absolute, ../ and symlinks leaving the root are quarantined", "[formats]") {
  TempDir dir;
  write_file(dir / "outside.png", "O");
  write_file(dir / "data/img/a.png", "A");
  write_file(dir / "data/fifo_dir/keep", "");
  std::filesystem::create_symlink(dir / "outside.png", dir / "data/img/escape.png");
  std::filesystem::create_symlink(dir / "data/img/a.png", dir / "data/img/inside.png");
  REQUIRE(::mkfifo((dir / "data/img/pipe.png").c_str(), 0600) == 0);
  write_lines(dir / "data/caps.jsonl",
              {
                  R"({"id": "ok", "image": "img/a.png", "caption": "x"})",
                  R"({"id": "dots", "image": "img/../img/./a.png", "caption": "x"})",  // stays inside: fine
                  R"({"id": "nul", "image": "img/a.png\u0000.txt", "caption": "x"})",
                  R"({"id": "abs", "image": ")" + (dir / "outside.png") + R"(", "caption": "x"})",
                  R"({"id": "up", "image": "img/../../outside.png", "caption": "x"})",
                  R"({"id": "escape", "image": "img/escape.png", "caption": "x"})",
                  R"({"id": "inside", "image": "img/inside.png", "caption": "x"})",
                  R"({"id": "folder", "image": "img", "caption": "x"})",
                  R"({"id": "pipe", "image": "img/pipe.png", "caption": "x"})",
                  R"({"id": "dev", "image": "../../../../../../../dev/zero", "caption": "x"})",
              });
  auto src = open_source(source_config("caps", "captions", dir / "data/caps.jsonl"));
  std::map<std::string, std::string> why;  // id -> reason of the open issue
  for (const auto& e : src->open_issues()) {
    CHECK(e.kind == QuarantineKind::ImagePath);
    why[e.id] = e.reason;
  }
  CHECK(why.size() == 4);
  CHECK(why["nul"].find("image path \"img/a.png\\x00.txt\" contains a NUL character") != std::string::npos);
  CHECK(why["abs"].find("is absolute (allowed only with allow_outside_root: true") != std::string::npos);
  CHECK(why["up"].find("image path img/../../outside.png leaves the dataset root") != std::string::npos);
  CHECK(why["dev"].find("leaves the dataset root") != std::string::npos);
  REQUIRE(src->size() == 6);
  std::map<std::string, std::pair<std::string, std::string>> got;  // id -> (kind, reason) of get()
  for (size_t i = 0; i < src->size(); ++i) {
    try {
      got[src->get(i).id] = {"", ""};
    } catch (const RecordError& e) {
      got[e.entry().id] = {to_string(e.entry().kind), e.entry().reason};
    }
  }
  CHECK(got["ok"].first.empty());
  CHECK(got["dots"].first.empty());
  CHECK(got["inside"].first.empty());
  CHECK(got["escape"].first == "image_path");
  CHECK(got["escape"].second.find("outside the dataset root") != std::string::npos);
  CHECK(got["folder"].first == "not_a_file");
  CHECK(got["folder"].second.find("is a folder, not a regular file") != std::string::npos);
  CHECK(got["pipe"].first == "not_a_file");
  CHECK(got["pipe"].second.find("is a FIFO (named pipe), not a regular file") != std::string::npos);

  // allow_outside_root: absolute, ../ and symlinks are accepted; a NUL never is.
  SourceConfig lax = source_config("caps", "captions", dir / "data/caps.jsonl");
  lax.allow_outside_root = true;
  auto all = open_source(lax);
  CHECK(kinds_of(all->open_issues()) == std::map<std::string, int>{{"image_path", 1}});
  CHECK(all->size() == 9);
}

TEST_CASE("interleaved JSONL (OBELICS layout)", "[formats][quarantine]") {
  TempDir dir;
  write_file(dir.file("p1.png"), "1");
  write_file(dir.file("p2.png"), "2");
  write_lines(
      dir.file("docs.jsonl"),
      {
          R"({"texts": ["Intro.", null, "Middle.", null], "images": [null, "p1.png", null, "p2.png"], "url": "x"})",
          R"({"texts": [null, "Caption after."], "images": ["p2.png", null]})",
          R"({"texts": ["a", null], "images": ["p1.png", null]})",  // both at position 0
          R"({"texts": [null, "b"], "images": [null, null]})",      // neither at position 0
          R"({"texts": ["a"], "images": [null, null]})",            // length mismatch
          R"({"texts": [null], "images": ["p1.png"]})",             // no text
          R"({"texts": ["", null], "images": [null, "p1.png"]})",   // empty text
          R"({"texts": ["a", null], "images": [null, 3]})",         // image not a path
          R"({"images": []})",                                      // missing texts
      });
  auto src = open_source(source_config("obelics", "interleaved", dir.file("docs.jsonl")));
  REQUIRE(src->size() == 2);
  RawSample s = src->get(0);
  REQUIRE(s.turns.size() == 1);
  CHECK(s.turns[0].role == Role::Text);
  CHECK(s.turns[0].text == "Intro.\n<image>\nMiddle.\n<image>");
  REQUIRE(s.images.size() == 2);
  CHECK(s.images[0].path == dir.file("p1.png"));
  CHECK(s.images[1].path == dir.file("p2.png"));
  CHECK(src->get(1).turns[0].text == "<image>\nCaption after.");
  CHECK(kinds_of(src->open_issues()) ==
        std::map<std::string, int>{{"wrong_type", 4}, {"empty_text", 2}, {"missing_field", 1}});
}

namespace {

const char* kLlavaRecords[] = {
    R"({"id": "single", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A square."}]})",
    R"({"id": "multi", "image": ["a.jpg", "b.jpg"], "conversations": [{"from": "system", "value": "Be brief."}, {"from": "user", "value": "Compare <image> and <image>."}, {"from": "assistant", "value": "Same."}, {"from": "human", "value": "Sure?"}, {"from": "gpt", "value": "Yes."}]})",
    R"({"id": "textonly", "conversations": [{"from": "human", "value": "List [1, 2000]?"}, {"from": "gpt", "value": "[1, 2000]"}]})",
    R"({"id": "noph", "image": "a.jpg", "conversations": [{"from": "human", "value": "Describe."}, {"from": "gpt", "value": "Box [1, 2, 3, 4]."}]})",
    R"({"id": "mismatch", "image": ["a.jpg", "b.jpg"], "conversations": [{"from": "human", "value": "<image> only one"}, {"from": "gpt", "value": "x"}]})",
    R"({"id": "noanswer", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image> hi"}]})",
    R"({"id": "badrole", "conversations": [{"from": "robot", "value": "hi"}, {"from": "gpt", "value": "x"}]})",
    R"({"id": "bigbox", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image> where?"}, {"from": "gpt", "value": "[100, 200, 300, 1400]"}]})",
    R"({"id": "emptyturn", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": ""}]})",
    R"({"id": "noconv", "image": "a.jpg"})",
    R"({"id": "badimage", "image": 12, "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]})",
    R"({"id": "lostimage", "image": "missing.jpg", "conversations": [{"from": "human", "value": "<image> q"}, {"from": "gpt", "value": "a"}]})",
};

void check_llava(const Source& src) {
  REQUIRE(src.size() == 5);
  RawSample s = src.get(0);
  CHECK(s.id == "single");
  REQUIRE(s.turns.size() == 2);
  CHECK(s.turns[0].role == Role::User);
  CHECK(s.turns[1].role == Role::Assistant);
  CHECK(s.turns[1].text == "A square.");
  REQUIRE(s.images.size() == 1);

  s = src.get(1);
  REQUIRE(s.turns.size() == 5);
  CHECK(s.turns[0].role == Role::System);
  CHECK(s.turns[1].role == Role::User);
  CHECK(s.turns[2].role == Role::Assistant);
  CHECK(s.turns[3].role == Role::User);
  REQUIRE(s.images.size() == 2);
  CHECK(s.images[1].path.find("b.jpg") != std::string::npos);

  s = src.get(2);  // text-only: bracketed numbers are not boxes without an image
  CHECK(s.images.empty());
  CHECK(s.turns[1].text == "[1, 2000]");

  s = src.get(3);  // LLaVA's convention: a missing placeholder goes first in the first human turn
  CHECK(s.turns[0].text == "<image>\nDescribe.");
  CHECK(count_image_placeholders(s) == 1);

  CHECK(get_error_kind(src, 4) == "missing_image");
  CHECK(kinds_of(src.open_issues()) == std::map<std::string, int>{{"placeholder_mismatch", 1},
                                                                  {"no_assistant_turn", 1},
                                                                  {"wrong_type", 2},
                                                                  {"box_out_of_range", 1},
                                                                  {"empty_text", 1},
                                                                  {"missing_field", 1}});
  for (const auto& e : src.open_issues()) CHECK(e.id != "line 1");  // ids come from the records
}

}  // namespace

TEST_CASE("llava: JSON array and JSONL give the same samples and quarantine", "[formats][quarantine]") {
  TempDir dir;
  write_file(dir.file("a.jpg"), "a");
  write_file(dir.file("b.jpg"), "b");
  std::vector<std::string> lines(std::begin(kLlavaRecords), std::end(kLlavaRecords));
  write_lines(dir.file("conv.jsonl"), lines);
  std::string array = "[\n";
  for (size_t i = 0; i < lines.size(); ++i) array += "  " + lines[i] + (i + 1 < lines.size() ? ",\n" : "\n");
  write_file(dir.file("conv.json"), array + "]\n");

  auto jsonl = open_source(source_config("l", "llava", dir.file("conv.jsonl")));
  auto arr = open_source(source_config("l", "llava", dir.file("conv.json")));
  check_llava(*jsonl);
  check_llava(*arr);
  for (size_t i = 0; i < 4; ++i) {
    const RawSample a = jsonl->get(i), b = arr->get(i);
    CHECK(a.id == b.id);
    REQUIRE(a.turns.size() == b.turns.size());
    for (size_t t = 0; t < a.turns.size(); ++t) CHECK(a.turns[t].text == b.turns[t].text);
  }
  // Check_boxes off keeps the out-of-grid answer.
  SourceConfig c = source_config("l", "llava", dir.file("conv.json"));
  c.check_boxes = false;
  CHECK(open_source(c)->size() == 6);
}

TEST_CASE("llava JSON array: records before a broken tail are kept", "[formats][quarantine]") {
  TempDir dir;
  write_file(dir.file("conv.json"),
             R"([{"id": "a", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
 {"id": "b", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "b"}]},
 {"id": "c", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "val)");
  auto src = open_source(source_config("l", "llava", dir.file("conv.json")));
  REQUIRE(src->size() == 2);
  CHECK(src->get(1).id == "b");
  REQUIRE(src->open_issues().size() == 1);
  CHECK(src->open_issues()[0].kind == QuarantineKind::BadJson);
  CHECK(src->open_issues()[0].reason.find("element 2") != std::string::npos);

  // An element that is not valid JSON inside an intact array is quarantined on its own.
  write_file(dir.file("conv2.json"),
             R"([{"id": "a", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
 {"id": "b" "conversations": []},
 {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "c"}]}])");
  auto src2 = open_source(source_config("l", "llava", dir.file("conv2.json")));
  REQUIRE(src2->size() == 2);
  CHECK(src2->get(1).id == "element 2");
  REQUIRE(src2->open_issues().size() == 1);
  CHECK(src2->open_issues()[0].id == "element 1");
  CHECK(src2->open_issues()[0].kind == QuarantineKind::BadJson);
}

TEST_CASE("text JSONL and multi-file sources", "[formats][quarantine]") {
  TempDir dir;
  write_lines(dir.file("t/a.jsonl"), {R"({"text": "one"})", R"({"text": ""})", R"({"txt": "typo"})"});
  write_lines(dir.file("t/b.jsonl"), {R"({"text": "two"})", R"({"text": "an <image> tag"})", R"({"text": "three"})"});
  write_lines(dir.file("t/ignored.txt"), {"not a dataset"});
  for (const std::string path : {dir.file("t"), dir.file("t/*.jsonl"), dir.file("t/{a,b}.jsonl")}) {
    auto src = open_source(source_config("txt", "text", path));
    REQUIRE(src->files().size() == 2);
    REQUIRE(src->size() == 3);
    CHECK(src->get(0).turns[0].text == "one");
    CHECK(src->get(1).turns[0].text == "two");
    CHECK(src->get(2).turns[0].text == "three");
    CHECK(src->get(2).id == "b.jsonl line 3");
    CHECK(src->get(2).images.empty());
    CHECK(kinds_of(src->open_issues()) ==
          std::map<std::string, int>{{"empty_text", 1}, {"missing_field", 1}, {"placeholder_mismatch", 1}});
  }
  CHECK_THROWS_WITH(open_source(source_config("txt", "text", dir.file("t/*.parquet"))),
                    Catch::Contains("no file matches"));
}
