// The untyped config tree: inherit (relative paths, several parents, cycles), --set, origins.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/config/config_tree.h"

using Catch::Matchers::Contains;
using mm::cfg::ConfigError;
using mm::cfg::ConfigTree;

namespace {

const std::string kDir = std::string(MM_TEST_DATA_DIR) + "/config/";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("inherit: relative paths, parents in order, the file overrides its parents", "[config]") {
  ConfigTree t = mm::cfg::load_yaml_file(kDir + "child.yaml");
  const auto& llm = t.root["model"]["llm"];
  CHECK(llm["layers"] == "6");        // base 2 < nested/mid 3 < other 6 (later parent wins)
  CHECK(llm["dim"] == "128");         // child overrides base's 96
  CHECK(llm["heads"] == "4");         // only in base, reached through nested/../base.yaml
  CHECK(llm["ffn_hidden"] == "256");  // only in other.yaml
  CHECK(t.root["model"]["connector"]["type"] == "avg_pool");
  CHECK(t.root["seed"] == "7");
  CHECK(t.root["run_dir"] == "runs/other");
  CHECK_FALSE(t.root.contains("inherit"));
  // Origins name the file (normalised, as the user would find it) and line that won.
  CHECK(t.origin_of("model.llm.layers") == kDir + "other.yaml:4");
  CHECK(t.origin_of("model.llm.dim") == kDir + "child.yaml:6");
  CHECK(t.origin_of("model.llm.heads") == kDir + "base.yaml:8");
  CHECK(t.origin_of("model.connector.type") == kDir + "nested/mid.yaml:7");
  CHECK(t.origin_of("model.llm.not_there") == t.origin_of("model.llm"));
}

TEST_CASE("inherit: a file reached twice is not a cycle, a real cycle names the chain", "[config]") {
  ConfigTree d = mm::cfg::load_yaml_file(kDir + "diamond.yaml");
  CHECK(d.root["model"]["llm"]["layers"] == "3");

  std::string e = error_of([] { mm::cfg::load_yaml_file(kDir + "cycle_a.yaml"); });
  CHECK_THAT(e, Contains("inherit cycle: " + kDir + "cycle_a.yaml -> " + kDir + "cycle_b.yaml -> " + kDir +
                         "nested/cycle_c.yaml -> " + kDir + "cycle_a.yaml"));
  e = error_of([] { mm::cfg::load_yaml_file(kDir + "self_cycle.yaml"); });
  CHECK(e == "inherit cycle: " + kDir + "self_cycle.yaml -> " + kDir + "self_cycle.yaml");
}

TEST_CASE("missing files and broken YAML are one-line errors naming the file", "[config]") {
  std::string e = error_of([] { mm::cfg::load_yaml_file(kDir + "missing_parent.yaml"); });
  CHECK(e ==
        "config file '" + kDir + "does_not_exist.yaml' does not exist (inherited by " + kDir + "missing_parent.yaml)");
  e = error_of([] { mm::cfg::load_yaml_file(kDir + "nope.yaml"); });
  CHECK(e == "config file '" + kDir + "nope.yaml' does not exist");
  e = error_of([] { mm::cfg::load_yaml_file(kDir + "nested"); });
  CHECK(e == "config file '" + kDir + "nested' is a folder, not a regular file");
  e = error_of([] { mm::cfg::load_yaml_file(kDir + "bad_syntax.yaml"); });
  CHECK_THAT(e, Contains(kDir + "bad_syntax.yaml:3:"));
  CHECK_THAT(e, Contains("invalid YAML"));
  CHECK(e.find('\n') == std::string::npos);
  e = error_of([] { mm::cfg::parse_yaml_text("- 1\n- 2\n", "x.yaml"); });
  CHECK(e == "x.yaml: expected a map of keys at the top level");
  e = error_of([] { mm::cfg::parse_yaml_text("a: 1\nb: 2\na: 3\n", "x.yaml"); });
  CHECK(e == "duplicate key 'a' in x.yaml:3");
  e = error_of([] { mm::cfg::parse_yaml_text("inherit: {a: 1}\n", "x.yaml"); });
  CHECK_THAT(e, Contains("inherit: expected a file name or a list of file names (x.yaml:1)"));
}

TEST_CASE("YAML scalars stay as written, null is null, an empty file is an empty map", "[config]") {
  ConfigTree t = mm::cfg::parse_yaml_text("a: 1.50\nb: \"null\"\nc:\nd: ~\ne: [x, 2]\n", "t");
  CHECK(t.root["a"] == "1.50");
  CHECK(t.root["b"] == "null");
  CHECK(t.root["c"].is_null());
  CHECK(t.root["d"].is_null());
  CHECK(t.root["e"] == mm::cfg::Json::array({"x", "2"}));
  CHECK(mm::cfg::parse_yaml_text("", "t").root.empty());
  CHECK(mm::cfg::parse_yaml_text("# only a comment\n", "t").root.empty());
}

TEST_CASE("set overrides: scalars, lists and maps parsed as YAML, deep-merged, later wins", "[config]") {
  ConfigTree t = mm::cfg::parse_yaml_text("m:\n  a: 1\n  b: {x: 1, y: 2}\n  l: [1, 2, 3]\n", "f.yaml");
  mm::cfg::apply_set(t, "m.a=5");
  mm::cfg::apply_set(t, "m.l=[7, 8]");
  mm::cfg::apply_set(t, "m.b={y: 9, z: 3}");
  mm::cfg::apply_set(t, "new.deep.key = hello world");
  mm::cfg::apply_set(t, "m.a=6");
  CHECK(t.root["m"]["a"] == "6");
  CHECK(t.root["m"]["l"] == mm::cfg::Json::array({"7", "8"}));  // lists replace
  CHECK(t.root["m"]["b"]["x"] == "1");                          // maps merge
  CHECK(t.root["m"]["b"]["y"] == "9");
  CHECK(t.root["m"]["b"]["z"] == "3");
  CHECK(t.root["new"]["deep"]["key"] == "hello world");
  CHECK(t.origin_of("m.a") == "--set m.a=6");
  CHECK(t.origin_of("m.b.z") == "--set m.b={y: 9, z: 3}");
  CHECK(t.origin_of("m.b.x") == "f.yaml:3");
  CHECK(t.origin_of("m.l[1]") == "--set m.l=[7, 8]");

  ConfigTree s = mm::cfg::parse_yaml_text("src:\n  - {name: a, w: 1}\n  - {name: b, w: 2}\n", "g.yaml");
  mm::cfg::apply_set(s, "src[1].w=0.5");
  CHECK(s.root["src"][1]["w"] == "0.5");
  CHECK(s.root["src"][0]["w"] == "1");
  CHECK(s.origin_of("src[1].w") == "--set src[1].w=0.5");
}

TEST_CASE("set override errors name the assignment", "[config]") {
  ConfigTree t = mm::cfg::parse_yaml_text("m:\n  a: 1\n  l: [1]\n", "f.yaml");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "m.a"); }) == "--set m.a: expected key.path=value");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "m..a=1"); }) ==
        "--set m..a=1: 'm..a' is not a key path like model.llm.layers or data.sources[0].weight");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "=1"); }) ==
        "--set =1: '' is not a key path like model.llm.layers or data.sources[0].weight");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "m.a.b=1"); }) == "--set m.a.b=1: 'm.a' is not a map, it holds \"1\"");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "m.l[3]=1"); }) ==
        "--set m.l[3]=1: 'm.l' has no element [3] in the config files (set the whole list: --set m.l=[...])");
  CHECK_THAT(error_of([&] { mm::cfg::apply_set(t, "m.a=[1, 2"); }), Contains("--set m.a=[1, 2: invalid YAML"));
}

TEST_CASE("set override addresses list entries by name", "[config]") {
  ConfigTree s = mm::cfg::parse_yaml_text(
      "groups:\n  - {name: single-image, weight: 80, categories: [{name: general, alpha: 1}, {name: ocr}]}\n"
      "  - {name: text-only, weight: 20}\n",
      "m.yaml");
  mm::cfg::apply_set(s, "groups[text-only].weight=35");
  mm::cfg::apply_set(s, "groups[single-image].categories[ocr].alpha=2.0");
  CHECK(s.root["groups"][1]["weight"] == "35");
  CHECK(s.root["groups"][0]["weight"] == "80");
  CHECK(s.root["groups"][0]["categories"][1]["alpha"] == "2.0");
  // The origin is recorded under the index path the config reader asks for.
  CHECK(s.origin_of("groups[1].weight") == "--set groups[text-only].weight=35");
  CHECK(error_of([&] { mm::cfg::apply_set(s, "groups[text_only].weight=1"); }) ==
        "--set groups[text_only].weight=1: 'groups' has no entry named 'text_only' (did you mean 'text-only'?) "
        "(entries: single-image, text-only)");
  CHECK(error_of([&] { mm::cfg::apply_set(s, "groups[0].weight.x[a]=1"); }) ==
        "--set groups[0].weight.x[a]=1: 'groups[0].weight' is not a map, it holds \"80\"");
  ConfigTree t = mm::cfg::parse_yaml_text("m: {a: 1}\n", "f.yaml");
  CHECK(error_of([&] { mm::cfg::apply_set(t, "m.a[x]=1"); }) ==
        "--set m.a[x]=1: 'm.a' is not a list in the config files, so it has no entry named 'x'");
}

TEST_CASE("closest_key suggests near misses only", "[config]") {
  std::vector<std::string> keys = {"lr_max", "lr_min", "warmup_steps", "dim"};
  CHECK(mm::cfg::closest_key("lr_maxx", keys) == "lr_max");
  CHECK(mm::cfg::closest_key("LR_MIN", keys) == "lr_min");
  CHECK(mm::cfg::closest_key("warmup_step", keys) == "warmup_steps");
  CHECK(mm::cfg::closest_key("batch_size", keys) == "");
  CHECK(mm::cfg::closest_key("x", keys) == "");
}

TEST_CASE("nested aliases (billion laughs) end in one line instead of expanding forever", "[config]") {
  // 9 levels of 10 aliases: 10^9 values if expanded.
  std::string text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    text += fmt::format("l{}: &l{} [", i, i);
    for (int k = 0; k < 10; ++k) text += fmt::format("{}*l{}", k ? ", " : "", i - 1);
    text += "]\n";
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string e = error_of([&] { mm::cfg::parse_yaml_text(text, "laughs.yaml"); });
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(e ==
        "laughs.yaml: more than 100000 values once aliases are expanded; a config is far smaller (nested "
        "YAML aliases?)");
  ConfigTree t = mm::cfg::parse_yaml_text("a: 1\n", "f.yaml");
  CHECK_THAT(error_of([&] { mm::cfg::apply_set(t, "a=" + text.substr(text.find('\n') + 1)); }), Contains("--set a="));
  // A control character quoted by the YAML parser stays printable: the error is one line.
  e = error_of([&] { mm::cfg::parse_yaml_text(std::string("a: \"x\\\0y\"\n", 10), "nul.yaml"); });
  CHECK_THAT(e, Contains("invalid YAML: unknown escape character: \\x00"));
  CHECK(e.find('\0') == std::string::npos);
  // A few aliases are fine (a config may reuse a block).
  ConfigTree ok = mm::cfg::parse_yaml_text("a: &x {b: 1}\nc: *x\n", "f.yaml");
  CHECK(ok.root["c"]["b"] == "1");
  // Long scalars repeated through aliases: bounded by bytes too.
  std::string big = "s: &s " + std::string(1 << 20, 'x') + "\nl: [";
  for (int k = 0; k < 20; ++k) big += std::string(k ? ", " : "") + "*s";
  e = error_of([&] { mm::cfg::parse_yaml_text(big + "]\n", "big.yaml"); });
  CHECK(e == "big.yaml: more than 16 MiB of text once aliases are expanded (nested YAML aliases?)");
}

TEST_CASE("inherit of /dev/zero, a FIFO or an oversized file is refused without reading it", "[config]") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "mm_cfg_test.XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const fs::path dir = tmpl;
  REQUIRE(::mkfifo((dir / "fifo.yaml").c_str(), 0600) == 0);
  { std::ofstream(dir / "zero.yaml") << "inherit: /dev/zero\n"; }
  { std::ofstream(dir / "pipe.yaml") << "inherit: fifo.yaml\n"; }
  { std::ofstream(dir / "big.yaml") << "a: \"" << std::string(5 << 20, 'x') << "\"\n"; }
  const std::string d = dir.string();
  CHECK(error_of([&] { mm::cfg::load_yaml_file(d + "/zero.yaml"); }) ==
        "config file '/dev/zero' is a character device, not a regular file (inherited by " + d + "/zero.yaml)");
  CHECK(error_of([&] { mm::cfg::load_yaml_file(d + "/pipe.yaml"); }) ==
        "config file '" + d + "/fifo.yaml' is a FIFO (named pipe), not a regular file (inherited by " + d +
            "/pipe.yaml)");
  CHECK(error_of([&] { mm::cfg::load_yaml_file(d + "/big.yaml"); }) ==
        "config file '" + d + "/big.yaml' is 5.0 MiB, larger than the 4.0 MiB limit for this kind of file");
  fs::remove_all(dir);
}
