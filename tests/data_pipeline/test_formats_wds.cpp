// WebDataset tar shards read in place: member offsets, key grouping, .txt / .json captions,
// globs, folders and brace ranges, truncated and compressed shards.
#include <catch2/catch.hpp>

#include <ctime>
#include <filesystem>

#include "core/timer.h"
#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/formats/tar_index.h"
#include "test_formats_util.h"

using namespace mm;
using namespace mm::data;
using mm::test::get_error_kind;
using mm::test::kinds_of;
using mm::test::source_config;
using mm::test::TempDir;
using mm::test::write_tar;

namespace {

// Distinct bytes per image so a wrong offset cannot go unnoticed.
std::string fake_image(const std::string& tag, size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<char>((i * 131 + tag.size() * 7 + tag.back()) & 0xff);
  return tag + b;
}

std::string read_ref(const ImageRef& r) { return ReadOnlyFile(r.path).pread(r.offset, r.size); }

}  // namespace

TEST_CASE("split_wds_key follows WebDataset's first-dot rule", "[formats][wds]") {
  CHECK(split_wds_key("dir.v1/abc.seg.PNG") == std::pair<std::string, std::string>{"dir.v1/abc", "seg.png"});
  CHECK(split_wds_key("000123.jpg") == std::pair<std::string, std::string>{"000123", "jpg"});
  CHECK(split_wds_key("noext") == std::pair<std::string, std::string>{"noext", ""});
}

TEST_CASE("wds shards: samples point at the image bytes inside the tar", "[formats][wds]") {
  TempDir dir;
  const std::string long_dir(120, 'd');  // > 100 chars: needs a pax header before the member
  const std::string img0 = fake_image("k0", 3000), img1 = fake_image("k1", 513), img2 = fake_image("k2", 1);
  write_tar(dir.file("shards/shard-000.tar"), {{"k0.jpg", img0},
                                               {"k0.txt", "a red circle"},
                                               {"k0.cls", "3"},
                                               {long_dir + "/k1.png", img1},
                                               {long_dir + "/k1.json", R"({"caption": "a blue square", "w": 4})"}});
  write_tar(dir.file("shards/shard-001.tar"), {{"k2.webp", img2}, {"k2.txt", "green"}});

  for (const std::string path :
       {dir.file("shards/shard-*.tar"), dir.file("shards"), dir.file("shards/shard-{000..001}.tar")}) {
    auto src = open_source(source_config("wds", "wds", path));
    REQUIRE(src->files().size() == 2);
    REQUIRE(src->size() == 3);
    CHECK(src->open_issues().empty());
    RawSample s = src->get(0);
    CHECK(s.id == "k0");
    CHECK(s.source == "wds");
    REQUIRE(s.turns.size() == 1);
    CHECK(s.turns[0].text == "<image>\na red circle");
    REQUIRE(s.images.size() == 1);
    CHECK(s.images[0].path == dir.file("shards/shard-000.tar"));
    CHECK(s.images[0].member == "k0.jpg");
    CHECK(s.images[0].size == static_cast<int64_t>(img0.size()));
    CHECK(read_ref(s.images[0]) == img0);
    CHECK(s.images[0].display_name() == dir.file("shards/shard-000.tar:k0.jpg"));

    s = src->get(1);
    CHECK(s.id == long_dir + "/k1");
    CHECK(s.turns[0].text == "<image>\na blue square");
    CHECK(read_ref(s.images[0]) == img1);

    s = src->get(2);
    CHECK(s.images[0].path == dir.file("shards/shard-001.tar"));
    CHECK(read_ref(s.images[0]) == img2);
  }
}

TEST_CASE("wds: keys without image or caption and bad captions are quarantined", "[formats][wds][quarantine]") {
  TempDir dir;
  write_tar(dir.file("s.tar"), {{"a.jpg", "A"},
                                {"a.txt", "fine"},
                                {"b.txt", "caption without image"},
                                {"c.png", "C"},
                                {"d.jpg", "D"},
                                {"d.json", R"({"caption": )"},
                                {"e.jpg", "E"},
                                {"e.json", R"({"alt": "no caption key"})"},
                                {"f.jpg", "F"},
                                {"f.txt", "  "},
                                {"g.jpg", "G"},
                                {"g.txt", "box [0, 0, 999, 1000]"},
                                {"h.jpg", "H"},
                                {"h.json", R"({"caption": ["list"]})"}});
  auto src = open_source(source_config("wds", "wds", dir.file("s.tar")));
  REQUIRE(src->size() == 1);
  CHECK(src->get(0).id == "a");
  CHECK(kinds_of(src->open_issues()) == std::map<std::string, int>{{"missing_member", 2},
                                                                   {"bad_json", 1},
                                                                   {"missing_field", 1},
                                                                   {"empty_text", 1},
                                                                   {"box_out_of_range", 1},
                                                                   {"wrong_type", 1}});
  CHECK(src->open_issues()[0].id == "b");
  CHECK(src->open_issues()[0].reason.find("no image member") != std::string::npos);
  CHECK(src->open_issues()[1].reason.find("no caption member") != std::string::npos);
}

TEST_CASE("wds: a truncated shard keeps the members before the damage", "[formats][wds][quarantine]") {
  TempDir dir;
  const std::string big = fake_image("k2", 5000);
  write_tar(dir.file("full.tar"), {{"k0.jpg", fake_image("k0", 700)},
                                   {"k0.txt", "zero"},
                                   {"k1.jpg", fake_image("k1", 900)},
                                   {"k1.txt", "one"},
                                   {"k2.jpg", big},
                                   {"k2.txt", "two"}});
  const auto full = list_tar_members(dir.file("full.tar"));
  REQUIRE(!full.damaged);
  REQUIRE(full.members.size() == 6);
  const uint64_t k2_data = full.members[4].offset;

  SECTION("cut inside an image's data") {
    std::filesystem::copy_file(dir.file("full.tar"), dir.file("cut.tar"));
    std::filesystem::resize_file(dir.file("cut.tar"), k2_data + 100);
    auto src = open_source(source_config("wds", "wds", dir.file("cut.tar")));
    REQUIRE(src->size() == 2);
    CHECK(src->get(1).turns[0].text == "<image>\none");
    CHECK(kinds_of(src->open_issues()) == std::map<std::string, int>{{"damaged_shard", 2}});
    CHECK(src->open_issues()[0].id == "k2");
    CHECK(src->open_issues()[1].id == "cut.tar");
    CHECK(src->open_issues()[1].reason.find("truncated") != std::string::npos);
  }
  SECTION("cut inside a header") {
    std::filesystem::copy_file(dir.file("full.tar"), dir.file("cut.tar"));
    // k1.txt data + part of the next header
    std::filesystem::resize_file(dir.file("cut.tar"), full.members[3].offset + 512 + 100);
    auto src = open_source(source_config("wds", "wds", dir.file("cut.tar")));
    REQUIRE(src->size() == 2);
    CHECK(src->get(0).id == "k0");
    CHECK(src->get(1).id == "k1");
    REQUIRE(!src->open_issues().empty());
    CHECK(src->open_issues().back().kind == QuarantineKind::DamagedShard);
  }
  SECTION("cut between a key's image and caption") {
    std::filesystem::copy_file(dir.file("full.tar"), dir.file("cut.tar"));
    // k2.jpg complete, k2.txt header gone
    std::filesystem::resize_file(dir.file("cut.tar"), full.members[5].offset - 512);
    auto src = open_source(source_config("wds", "wds", dir.file("cut.tar")));
    REQUIRE(src->size() == 2);
    const auto kinds = kinds_of(src->open_issues());
    CHECK(kinds.at("damaged_shard") >= 1);
    CHECK(kinds.count("missing_member") == 0);  // the missing caption is blamed on the damage
    CHECK(src->open_issues()[0].id == "k2");
  }
}

TEST_CASE("wds: compressed or non-tar shards are reported, other shards still train", "[formats][wds][quarantine]") {
  TempDir dir;
  write_tar(dir.file("s/a.tar"), {{"x.jpg", "X"}, {"x.txt", "ok"}});
  write_tar(dir.file("s/b.tar"), {{"y.jpg", "Y"}, {"y.txt", "ok"}}, ARCHIVE_FILTER_GZIP);
  mm::test::write_file(dir.file("s/c.tar"), "this is not a tar file at all, just text\n");
  auto src = open_source(source_config("wds", "wds", dir.file("s")));
  REQUIRE(src->size() == 1);
  CHECK(src->get(0).id == "x");
  REQUIRE(src->open_issues().size() == 2);
  CHECK(src->open_issues()[0].id == "b.tar");
  CHECK(src->open_issues()[0].kind == QuarantineKind::DamagedShard);
  CHECK(src->open_issues()[0].reason.find("uncompressed") != std::string::npos);
  CHECK(src->open_issues()[1].id == "c.tar");
}

// Hidden (run by hand: test_formats "[.bench]"): listing speed of many small members.
TEST_CASE("wds: 10 shards x 10k keys open quickly", "[.bench][formats][wds]") {
  TempDir dir;
  for (int s = 0; s < 10; ++s) {
    std::vector<std::pair<std::string, std::string>> members;
    for (int k = 0; k < 10000; ++k) {
      const std::string key = fmt::format("{:02d}{:06d}", s, k);
      members.push_back({key + ".jpg", fake_image(key, 600)});
      members.push_back({key + ".txt", "a caption for " + key});
    }
    write_tar(dir.file(fmt::format("shard-{:03d}.tar", s)), members);
  }
  const mm::Stopwatch watch;
  const std::clock_t c0 = std::clock();
  auto src = open_source(source_config("wds", "wds", dir.file("shard-{000..009}.tar")));
  const double cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;
  const double wall_s = watch.seconds();
  WARN("wds 100k keys in 10 shards: open " << wall_s << " s wall, " << cpu_s << " s CPU, index "
                                           << src->index_bytes() / 1e6 << " MB");
  REQUIRE(src->size() == 100000);
  CHECK(read_ref(src->get(54321).images[0]) == fake_image("05004321", 600));
  CHECK(cpu_s < 10.0);
}
