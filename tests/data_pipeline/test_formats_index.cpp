// The index (O(1) access, size, speed on 100k records), the quarantine sink, path expansion
// and the box scanner.
#include <catch2/catch.hpp>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/timer.h"
#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/formats/json_index.h"
#include "data_pipeline/formats/json_source.h"
#include "data_pipeline/formats/record_check.h"
#include "test_formats_util.h"

using namespace mm;
using namespace mm::data;
using mm::test::source_config;
using mm::test::TempDir;
using mm::test::write_file;

TEST_CASE("100k-line JSONL: compact index, O(1) random access, thread-safe get", "[formats][index]") {
  TempDir dir;
  const size_t n = 100000;
  std::string all;
  all.reserve(n * 90);
  for (size_t i = 0; i < n; ++i) {
    if (i % 1000 == 999) {
      all += "{\"text\": broken json " + std::to_string(i) + "\n";  // every 1000th record is malformed
    } else {
      all += "{\"id\": \"r" + std::to_string(i) + "\", \"text\": \"record number " + std::to_string(i) +
             " with some words\"}\n";
    }
  }
  write_file(dir.file("big.jsonl"), all);
  const mm::Stopwatch watch;
  auto src = open_source(source_config("big", "text", dir.file("big.jsonl")));
  const double open_s = watch.seconds();
  WARN("opened 100k lines (" << all.size() / 1e6 << " MB) in " << open_s << " s, index " << src->index_bytes() / 1e6
                             << " MB");
  REQUIRE(src->size() == n - n / 1000);
  REQUIRE(src->open_issues().size() == n / 1000);
  CHECK(src->open_issues()[0].id == "line 1000");
  CHECK(src->index_bytes() <= 16 * src->size() + 1024);
  CHECK(open_s < 10.0);

  // Index i -> record: the k-th valid record skips the malformed ones before it.
  auto record_of = [](size_t i) { return i + i / 999; };
  std::mt19937 rng(7);
  for (int k = 0; k < 2000; ++k) {
    const size_t i = rng() % src->size();
    const RawSample s = src->get(i);
    REQUIRE(s.id == "r" + std::to_string(record_of(i)));
    REQUIRE(s.turns[0].text == "record number " + std::to_string(record_of(i)) + " with some words");
  }
  // The index does not depend on how many threads built it.
  const JsonSource one(source_config("big", "text", dir.file("big.jsonl")), convert_text, 1);
  const JsonSource three(source_config("big", "text", dir.file("big.jsonl")), convert_text, 3);
  REQUIRE(one.size() == src->size());
  REQUIRE(three.size() == src->size());
  REQUIRE(one.open_issues().size() == three.open_issues().size());
  for (size_t k = 0; k < one.open_issues().size(); ++k) REQUIRE(one.open_issues()[k].id == three.open_issues()[k].id);
  for (size_t i = 0; i < src->size(); i += 4999) REQUIRE(one.get(i).id == three.get(i).id);

  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = t; i < src->size(); i += 97) wrong[t] += src->get(i).id != "r" + std::to_string(record_of(i));
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

TEST_CASE("JSON scanner: lines, arrays, strings with brackets and escapes", "[formats][index]") {
  const std::string lines = "{\"a\": 1}\r\n\n  \n{\"b\": \"x\\n]\"}";
  ScanResult r = scan_json_records(lines.data(), lines.size());
  CHECK(!r.is_array);
  REQUIRE(r.spans.size() == 2);
  CHECK(r.spans[0].number == 1);
  CHECK(r.spans[1].number == 4);
  CHECK(lines.substr(r.spans[1].offset, r.spans[1].length) == "{\"b\": \"x\\n]\"}");

  const std::string arr = " [ {\"s\": \"}],[\\\"\"}, [1, [2]], \"str\" , 42 ]";
  r = scan_json_records(arr.data(), arr.size());
  CHECK(r.is_array);
  CHECK(r.broken.empty());
  REQUIRE(r.spans.size() == 4);
  CHECK(arr.substr(r.spans[0].offset, r.spans[0].length) == "{\"s\": \"}],[\\\"\"}");
  CHECK(arr.substr(r.spans[1].offset, r.spans[1].length) == "[1, [2]]");
  CHECK(arr.substr(r.spans[2].offset, r.spans[2].length) == "\"str\"");
  CHECK(arr.substr(r.spans[3].offset, r.spans[3].length) == "42");
  CHECK(r.spans[3].number == 3);

  const std::string empty = "[]";
  CHECK(scan_json_records(empty.data(), empty.size()).spans.empty());
  const std::string cut = "[{\"a\": 1}, {\"b\": ";
  r = scan_json_records(cut.data(), cut.size());
  CHECK(r.spans.size() == 1);
  CHECK(!r.broken.empty());
}

TEST_CASE("box scanner: 2- and 4-integer groups on the 0..999 grid", "[formats][quarantine]") {
  CHECK(!find_bad_box("the cat at [0, 0, 999, 999] and [500, 500]"));
  CHECK(find_bad_box("[10, 20, 30, 1000]").value().find("[10, 20, 30, 1000]") != std::string::npos);
  CHECK(find_bad_box("point [-1, 5]").has_value());
  CHECK(find_bad_box("[300,10,200,20]").has_value());                    // x1 > x2
  CHECK(!find_bad_box("[1, 2, 3] and [1, 2, 3, 4, 5000]"));              // 3 and 5 numbers: not boxes
  CHECK(!find_bad_box("[0.5, 0.5, 1.5, 2.0] [x1, y1, x2, y2] [a] []"));  // not integer boxes
  CHECK(!find_bad_box("[[1, 2], [3, 4]]"));
  CHECK(find_bad_box("nested [[1, 2000]]").has_value());
}

TEST_CASE("fraction-box scanner: 2- and 4-number groups of 0-1 fractions", "[formats]") {
  CHECK(find_fraction_box("the cat at [0.1, 0.25, 0.5, 0.75].").value() == "[0.1, 0.25, 0.5, 0.75]");
  CHECK(find_fraction_box("point [0.5,1]").value() == "[0.5,1]");
  CHECK(find_fraction_box("first [1, 2] then [0, 0.5]").value() == "[0, 0.5]");
  CHECK(!find_fraction_box("[0, 0, 999, 999] [500, 500]"));           // grid integers
  CHECK(!find_fraction_box("[0, 1, 0, 1]"));                          // no fraction: could be anything
  CHECK(!find_fraction_box("[0.5, 1.5, 0.2, 0.3] [0.1, 0.2, 0.3]"));  // above 1; three numbers
  CHECK(!find_fraction_box("[a, 0.5] [0.5, -0.2] [] [.]"));
  CHECK(find_fraction_box("[[0.1, 0.2], [0.3, 0.4]]").value() == "[0.1, 0.2]");  // the inner groups are pairs
}

TEST_CASE("quarantine sink: thread-safe, deduplicated, written as JSONL", "[quarantine]") {
  TempDir dir;
  {
    Quarantine q(dir.file("live.jsonl"));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&q, t] {
        for (int i = 0; i < 250; ++i)
          q.add({"src", "line " + std::to_string(i + 250 * (t % 2)), QuarantineKind::EmptyText, "text is \"empty\""});
      });
    for (auto& th : threads) th.join();
    CHECK(q.size() == 500);  // threads 0/2 and 1/3 add the same entries
    CHECK(!q.add({"src", "line 0", QuarantineKind::EmptyText, "text is \"empty\""}));
    CHECK(q.add({"src", "line 0", QuarantineKind::MissingImage, "another reason"}));
    q.write_jsonl(dir.file("dump.jsonl"));
  }
  for (const std::string file : {dir.file("live.jsonl"), dir.file("dump.jsonl")}) {
    std::ifstream f(file);
    std::string line;
    size_t n = 0;
    while (std::getline(f, line)) {
      auto j = nlohmann::json::parse(line);
      CHECK(j.at("source") == "src");
      CHECK(j.at("id").get<std::string>().rfind("line ", 0) == 0);
      CHECK((j.at("kind") == "empty_text" || j.at("kind") == "missing_image"));
      ++n;
    }
    CHECK(n == 501);
  }
  RecordError err({"s", "line 3", QuarantineKind::BadJson, "f.jsonl line 3: bad JSON"});
  CHECK(std::string(err.what()) == "s: line 3: f.jsonl line 3: bad JSON");
}

TEST_CASE("path expansion: brace ranges and lists", "[formats]") {
  CHECK(expand_braces("s-{008..011}.tar") ==
        std::vector<std::string>{"s-008.tar", "s-009.tar", "s-010.tar", "s-011.tar"});
  CHECK(expand_braces("{a,b}/{1..2}") == std::vector<std::string>{"a/1", "a/2", "b/1", "b/2"});
  CHECK(expand_braces("x{y}z") == std::vector<std::string>{"x{y}z"});
  CHECK(expand_braces("{a,{b,c}}") == std::vector<std::string>{"a", "b", "c"});
  CHECK(join_root("/data", "img/a.jpg") == "/data/img/a.jpg");
  CHECK(join_root("/data/", "/abs.jpg") == "/abs.jpg");
  CHECK(parent_folder("a.jsonl") == ".");
}

namespace {

// Resident set size / its peak of this process, in MB (Linux /proc).
double proc_status_mb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  return -1;
}

}  // namespace

// Hidden (run by hand: test_formats "[.bench]"): the 1M-line budget of the issue.
TEST_CASE("1M-line LLaVA JSONL opens in seconds within a few tens of MB", "[.bench][formats][index]") {
  TempDir dir;
  for (int k = 0; k < 1000; ++k) write_file(dir.file("img/" + std::to_string(k) + ".jpg"), "x");
  {
    std::ofstream f(dir.file("big.jsonl"));
    for (size_t i = 0; i < 1000000; ++i)
      f << R"({"id": "s)" << i << R"(", "image": "img/)" << i % 1000
        << R"(.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is in the picture?"}, )"
        << R"({"from": "gpt", "value": "A red circle at [120, 340, 560, 780] next to a square."}]})" << '\n';
  }
  const double file_mb = std::filesystem::file_size(dir.file("big.jsonl")) / 1e6;
  const double rss0 = proc_status_mb("VmRSS:");
  const mm::Stopwatch watch;
  const std::clock_t c0 = std::clock();
  auto src = open_source(source_config("big", "llava", dir.file("big.jsonl")));
  const double open_cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;  // all threads: robust to a busy machine
  const double open_s = watch.seconds();
  const double rss1 = proc_status_mb("VmRSS:");
  const double hwm = proc_status_mb("VmHWM:");
  const mm::Stopwatch get_watch;
  std::mt19937 rng(1);
  for (int k = 0; k < 100000; ++k) {
    const size_t i = rng() % src->size();
    REQUIRE(src->get(i).id == "s" + std::to_string(i));
  }
  const double get_us = get_watch.seconds() * 10;
  WARN("1M lines, " << file_mb << " MB: open " << open_s << " s wall, " << open_cpu_s << " s CPU ("
                    << std::thread::hardware_concurrency() << " hw threads), index " << src->index_bytes() / 1e6
                    << " MB, RSS " << rss0 << " -> " << rss1 << " MB (peak " << hwm << " MB), get " << get_us
                    << " us/record");
  CHECK(src->size() == 1000000);
  CHECK(open_cpu_s < 10.0);
  CHECK(src->index_bytes() < 20e6);
}
