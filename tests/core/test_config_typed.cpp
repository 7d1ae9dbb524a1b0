// The typed layer over visit(): nested structs, vectors and maps, every error class, rules,
// validate(), and dump/load round trips, on test structs shaped like later sections.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/data_config.h"

using Catch::Matchers::Contains;

namespace {

struct Optim {
  double lr_max = 1e-3;
  double lr_min = 0.0;
  int64_t warmup_steps = 100;
  double dropout = 0.1;

  template <class V>
  void visit(V& v) {
    v("lr_max", lr_max, "peak learning rate", mm::cfg::positive());
    v("lr_min", lr_min, "final learning rate", mm::cfg::non_negative());
    v("warmup_steps", warmup_steps, "linear warm-up", mm::cfg::non_negative());
    v("dropout", dropout, "dropout probability", mm::cfg::probability());
  }
  void validate(mm::cfg::Problems& p) const {
    if (lr_min > lr_max) p.add("lr_min", "must be <= lr_max");
  }
};

struct Stage {
  std::string name = "pretrain";
  std::string init_from = "scratch";
  bool freeze_vision = false;
  int32_t small = 1;
  uint64_t seed = 0;
  float scale = 0.5f;
  std::vector<int64_t> dims = {1, 2};
  std::vector<std::string> tags;
  std::vector<mm::SourceConfig> sources;
  std::map<std::string, double> mixture = {{"general", 1.0}};
  std::map<std::string, Optim> groups;
  Optim trainer;

  template <class V>
  void visit(V& v) {
    v("name", name, "stage name", mm::cfg::non_empty());
    v("init_from", init_from, "scratch | previous", mm::cfg::one_of({"scratch", "previous"}));
    v("freeze_vision", freeze_vision, "keep the encoder frozen");
    v("small", small, "a 32-bit field");
    v("seed", seed, "an unsigned field");
    v("scale", scale, "a float field");
    v("dims", dims, "positive sizes", mm::cfg::positive());
    v("tags", tags, "labels", mm::cfg::one_of({"a", "b", "c"}));
    v("sources", sources, "datasets");
    v("mixture", mixture, "category weights", mm::cfg::non_negative() & mm::cfg::nonzero_sum());
    v("groups", groups, "per-group optimisers");
    v("trainer", trainer, "optimiser");
  }
};

struct Required {
  std::string path;
  int64_t n = 0;
  template <class V>
  void visit(V& v) {
    v("path", path, "must be given", mm::cfg::required());
    v("n", n, "optional");
  }
};
struct HasRequired {
  Required r;
  template <class V>
  void visit(V& v) {
    v("r", r, "a section with a required key");
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mm::cfg::ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

Stage parse(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  return mm::cfg::parse_config<Stage>(yaml, sets, "s.yaml");
}

}  // namespace

TEST_CASE("typed read: defaults, nested structs, vectors of scalars and structs, maps", "[config]") {
  Stage d = parse("");
  CHECK(d.name == "pretrain");
  CHECK(d.dims == std::vector<int64_t>{1, 2});
  CHECK(d.trainer.warmup_steps == 100);

  Stage s = parse(R"(
name: sft
init_from: previous
freeze_vision: yes
small: -7
dims: [4, 8, 16]
tags: [a, c]
sources:
  - {name: caps, format: captions, path: /d/caps.jsonl}
  - name: ocr
    format: llava
    path: /d/ocr.jsonl
    weight: 2.5
    category: text-rich
mixture: {text-rich: 3}
groups:
  vision: {lr_max: 2e-5}
  llm: {warmup_steps: 0}
trainer:
  lr_max: 0.01
  lr_min: 1e-4
)");
  CHECK(s.name == "sft");
  CHECK(s.init_from == "previous");
  CHECK(s.freeze_vision);
  CHECK(s.small == -7);
  CHECK(s.dims == std::vector<int64_t>{4, 8, 16});
  CHECK(s.tags == std::vector<std::string>{"a", "c"});
  REQUIRE(s.sources.size() == 2);
  CHECK(s.sources[0].name == "caps");
  CHECK(s.sources[0].weight == 1.0);  // element defaults
  CHECK(s.sources[0].category == "general");
  CHECK(s.sources[1].weight == 2.5);
  CHECK(s.sources[1].category == "text-rich");
  CHECK(s.mixture.size() == 2);  // maps merge with the default entries
  CHECK(s.mixture.at("general") == 1.0);
  CHECK(s.mixture.at("text-rich") == 3.0);
  CHECK(s.groups.at("vision").lr_max == 2e-5);
  CHECK(s.groups.at("vision").warmup_steps == 100);
  CHECK(s.groups.at("llm").warmup_steps == 0);
  CHECK(s.trainer.lr_max == 0.01);
  CHECK(s.trainer.lr_min == 1e-4);
  CHECK(s.trainer.dropout == 0.1);

  // `key: ~` removes a map entry; --set reaches into lists of structs and maps.
  Stage t = parse("mixture: {general: ~, ocr: 1}\nsources: [{name: a, format: f, path: p}]\n",
                  {"sources[0].weight=0.25", "groups={x: {dropout: 0.5}}", "dims=[3]"});
  CHECK(t.mixture.count("general") == 0);
  CHECK(t.sources[0].weight == 0.25);
  CHECK(t.groups.at("x").dropout == 0.5);
  CHECK(t.dims == std::vector<int64_t>{3});
}

TEST_CASE("unknown keys: the closest valid key, the same name elsewhere, or the valid keys", "[config]") {
  CHECK(error_of([] { parse("trainer:\n  lr_maxx: 1\n"); }) ==
        "unknown key 'trainer.lr_maxx' in s.yaml:2 (did you mean 'trainer.lr_max'?)");
  CHECK(error_of([] { parse("", {"trainer.lr_maxx=1"}); }) ==
        "unknown key 'trainer.lr_maxx' in --set trainer.lr_maxx=1 (did you mean 'trainer.lr_max'?)");
  CHECK(error_of([] { parse("dropout: 0.1\n"); }) ==
        "unknown key 'dropout' in s.yaml:1 (did you mean 'groups.<name>.dropout' or 'trainer.dropout'?)");
  CHECK(error_of([] { parse("sources: [{name: a, format: f, path: p, wieght: 2}]\n"); }) ==
        "unknown key 'sources[0].wieght' in s.yaml:1 (did you mean 'sources[0].weight'?)");
  CHECK(error_of([] { parse("trainer: {zzz_qqq: 1}\n"); }) ==
        "unknown key 'trainer.zzz_qqq' in s.yaml:1 (valid keys under 'trainer': lr_max, lr_min, "
        "warmup_steps, dropout)");
}

TEST_CASE("wrong types name the key, the value and where it was written", "[config]") {
  CHECK(error_of([] { parse("trainer:\n  warmup_steps: abc\n"); }) ==
        "trainer.warmup_steps: expected integer, got 'abc' (s.yaml:2)");
  CHECK(error_of([] { parse("", {"trainer.warmup_steps=abc"}); }) ==
        "trainer.warmup_steps: expected integer, got 'abc' (--set trainer.warmup_steps=abc)");
  CHECK(error_of([] { parse("trainer: {warmup_steps: 1.5}\n"); }) ==
        "trainer.warmup_steps: expected integer, got '1.5' (s.yaml:1)");
  CHECK(error_of([] { parse("small: 3000000000\n"); }) ==
        "small: integer 3000000000 out of range [-2147483648, 2147483647] (s.yaml:1)");
  CHECK(error_of([] { parse("seed: -1\n"); }) == "seed: integer -1 out of range [0, 18446744073709551615] (s.yaml:1)");
  CHECK(error_of([] { parse("freeze_vision: maybe\n"); }) ==
        "freeze_vision: expected true or false, got 'maybe' (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {lr_max: fast}\n"); }) ==
        "trainer.lr_max: expected number, got 'fast' (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: 5\n"); }) == "trainer: expected map, got '5' (s.yaml:1)");
  CHECK(error_of([] { parse("dims: 5\n"); }) == "dims: expected list, got '5' (s.yaml:1)");
  CHECK(error_of([] { parse("dims: [1, x]\n"); }) == "dims[1]: expected integer, got 'x' (s.yaml:1)");
  CHECK(error_of([] { parse("name: [a]\n"); }) == "name: expected string, got a list (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {warmup_steps: }\n"); }) ==
        "trainer.warmup_steps: expected integer, got nothing (null) (s.yaml:1)");
  CHECK(error_of([] { parse("mixture: [1]\n"); }) == "mixture: expected map, got a list (s.yaml:1)");
}

TEST_CASE("rules: ranges, probabilities, choices, non-empty, weights summing to zero", "[config]") {
  CHECK(error_of([] { parse("trainer: {warmup_steps: -1}\n"); }) ==
        "trainer.warmup_steps: must be >= 0, got -1 (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {lr_max: 0}\n"); }) == "trainer.lr_max: must be > 0, got 0 (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {lr_max: .inf}\n"); }) ==
        "trainer.lr_max: must be a finite number > 0, got inf (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {warmup_steps: 1, lr_max: -.inf}\n"); }) ==
        "trainer.lr_max: must be a finite number > 0, got -inf (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {dropout: 1.5}\n"); }) ==
        "trainer.dropout: must be in [0, 1], got 1.5 (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {dropout: .nan}\n"); }) ==
        "trainer.dropout: must be in [0, 1], got nan (s.yaml:1)");
  CHECK(error_of([] { parse("dims: [4, 0]\n"); }) == "dims[1]: must be > 0, got 0 (s.yaml:1)");
  CHECK(error_of([] { parse("init_from: previuos\n"); }) ==
        "init_from: expected one of scratch | previous, got 'previuos' (s.yaml:1)");
  CHECK(error_of([] { parse("tags: [a, d]\n"); }) == "tags[1]: expected one of a | b | c, got 'd' (s.yaml:1)");
  CHECK(error_of([] { parse("name: ''\n"); }) == "name: must not be empty (s.yaml:1)");
  CHECK(error_of([] { parse("mixture: {general: 0, ocr: 0}\n"); }) ==
        "mixture: weights must not all be zero (they sum to 0) (s.yaml:1)");
  CHECK(error_of([] { parse("mixture: {general: -1}\n"); }) == "mixture.general: must be >= 0, got -1 (s.yaml:1)");
  CHECK(error_of([] { parse("sources: [{name: a, format: f, path: p, weight: -2}]\n"); }) ==
        "sources[0].weight: must be >= 0, got -2 (s.yaml:1)");
  // Cross-field validate() reports its key with the struct's path.
  CHECK(error_of([] { parse("trainer: {lr_max: 0.1, lr_min: 0.2}\n"); }) ==
        "trainer.lr_min: must be <= lr_max (s.yaml:1)");
  CHECK(error_of([] { parse("groups:\n  g:\n    lr_min: 5\n"); }) == "groups.g.lr_min: must be <= lr_max (s.yaml:3)");
}

TEST_CASE("missing required keys, in structs and in list elements", "[config]") {
  CHECK(error_of([] { mm::cfg::parse_config<HasRequired>("r: {n: 2}\n", {}, "r.yaml"); }) ==
        "missing required key 'r.path' (r.yaml:1)");
  CHECK(error_of([] { mm::cfg::parse_config<HasRequired>("", {}, "r.yaml"); }) == "missing required key 'r.path'");
  CHECK(mm::cfg::parse_config<HasRequired>("", {"r.path=/x"}).r.path == "/x");
  CHECK(error_of([] { parse("sources:\n  - {name: a, format: f, path: p}\n  - {name: b, path: q}\n"); }) ==
        "missing required key 'sources[1].format' (s.yaml:3)");
}

TEST_CASE("scalar spellings: YAML booleans, floats, quoted strings", "[config]") {
  Stage s = parse("freeze_vision: off\nname: '123'\ntrainer: {lr_max: 1e2, lr_min: +.5, dropout: 0}\n");
  CHECK_FALSE(s.freeze_vision);
  CHECK(s.name == "123");
  CHECK(s.trainer.lr_max == 100.0);
  CHECK(s.trainer.lr_min == 0.5);
  CHECK(s.trainer.dropout == 0.0);
  CHECK(parse("small: +12\n").small == 12);
  CHECK(parse("seed: 18446744073709551615\n").seed == 18446744073709551615ull);
  CHECK(error_of([] { parse("trainer: {lr_max: 0x10}\n"); }) ==
        "trainer.lr_max: expected number, got '0x10' (s.yaml:1)");
  CHECK(error_of([] { parse("trainer: {lr_max: 1e999}\n"); }) ==
        "trainer.lr_max: expected number, got '1e999' (s.yaml:1)");
}

TEST_CASE("dump -> load gives an identical struct, awkward strings survive", "[config]") {
  Stage s = parse(R"(
name: "yes"
init_from: previous
seed: 18446744073709551615
scale: 0.1
dims: [4, 8]
tags: []
sources:
  - {name: "1.5", format: "a: b", path: " lead", root: "", weight: 0.1}
mixture: {"null": 0.3, general: 2}
groups:
  "true": {lr_max: 3.0000000000000004e-05, dropout: 1}
trainer: {lr_max: 0.1, lr_min: 1e-300}
)");
  std::string yaml = mm::cfg::to_yaml(s);
  Stage back = mm::cfg::parse_config<Stage>(yaml);
  CHECK(mm::cfg::to_ordered_json(back) == mm::cfg::to_ordered_json(s));
  CHECK(mm::cfg::to_yaml(back) == yaml);
  CHECK(back.name == "yes");
  CHECK(back.seed == 18446744073709551615ull);
  CHECK(back.scale == 0.1f);
  CHECK_THAT(yaml, Contains("scale: 0.1\n"));
  CHECK(back.sources[0].name == "1.5");
  CHECK(back.sources[0].format == "a: b");
  // an input path: made absolute against the parsed text's folder (the working directory), space kept
  CHECK(back.sources[0].path == (std::filesystem::current_path() / " lead").string());
  CHECK(back.groups.at("true").lr_max == 3.0000000000000004e-05);
  CHECK(back.trainer.lr_min == 1e-300);
  CHECK(back.mixture.at("null") == 0.3);
  CHECK(mm::cfg::hash_of(back) == mm::cfg::hash_of(s));
}

TEST_CASE("key_reference lists every key with type, default, rule and doc", "[config]") {
  auto keys = mm::cfg::key_reference<Stage>();
  auto find = [&](const std::string& p) {
    for (const auto& k : keys)
      if (k.path == p) return k;
    FAIL("no key " << p);
    return keys.front();
  };
  CHECK(find("dims").type == "list of integer");
  CHECK(find("dims").default_value == "[1, 2]");
  CHECK(find("dims").rule == "> 0");
  CHECK(find("sources").type == "list of maps");
  CHECK(find("sources[].name").rule == "required, not empty");
  CHECK(find("mixture").rule == ">= 0, not all zero");
  CHECK(find("groups.<name>.dropout").rule == "in [0, 1]");
  CHECK(find("trainer").section);
  CHECK(find("trainer.lr_max").default_value == "0.001");
  CHECK(find("init_from").rule == "one of scratch | previous");
  CHECK(find("init_from").doc == "scratch | previous");
}
