// safetensors: round trips of every dtype, the exact byte layout, zero-copy mapping, a
// cross-check against the independent Python reader/writer, and every hostile-file class.
//
// The Python cross-checks need a python3 with numpy: MM_PYTHON if set, else `python3`, else
// /usr/bin/python3. Without one they WARN and return early (a skip, not a failure).
#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/check.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;
namespace st = mm::safetensors;
using json = nlohmann::json;
using mm::test::TempDir;

namespace {

// Raw bytes of a tensor in C order.
std::string bytes_of(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

torch::Tensor from_bits(const std::vector<uint16_t>& bits, torch::ScalarType type) {
  return torch::from_blob(const_cast<uint16_t*>(bits.data()), {int64_t(bits.size())}, torch::kInt16).clone().view(type);
}

// Every supported dtype, with special values, 0-d, empty and non-contiguous tensors.
std::map<std::string, torch::Tensor> all_dtype_tensors() {
  torch::manual_seed(7);
  std::map<std::string, torch::Tensor> t;
  const auto inf = std::numeric_limits<double>::infinity();
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  t["f64"] = torch::tensor({0.0, -0.0, 1.5, inf, -inf, nan, 1e-310, 1e300}, torch::kFloat64).reshape({2, 4});
  t["f32"] = torch::randn({3, 5});
  t["f32_special"] = torch::tensor({0.0, -0.0, inf, -inf, nan, 1e-40}, torch::kFloat32);
  t["f16"] = torch::randn({4, 3}).to(torch::kFloat16);
  // F16 bits: 1.0, -0.0, inf, a NaN with payload, the smallest subnormal, 65504.
  t["f16_bits"] = from_bits({0x3C00, 0x8000, 0x7C00, 0x7E01, 0x0001, 0x7BFF}, torch::kFloat16);
  t["bf16"] = torch::randn({2, 3, 2}).to(torch::kBFloat16);
  t["bf16_bits"] = from_bits({0x3F80, 0x8000, 0x7F80, 0x7FC1, 0x0001, 0xC049}, torch::kBFloat16);
  t["i64"] =
      torch::tensor({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, std::numeric_limits<int64_t>::max()},
                    torch::kInt64);
  t["i32"] = torch::randint(-2000000000, 2000000000, {6}, torch::kInt32);
  t["i16"] = torch::randint(-32768, 32767, {2, 2}, torch::kInt16);
  t["i8"] = torch::arange(-128, 128, 9, torch::kInt8);
  t["u8"] = torch::arange(0, 256, 5, torch::kUInt8);
  t["bool"] = torch::randint(0, 2, {3, 3}).to(torch::kBool);
  t["scalar_f32"] = torch::tensor(2.5f);
  t["scalar_bool"] = torch::tensor(true);
  t["empty_f32"] = torch::empty({0});
  t["empty_i64"] = torch::empty({2, 0, 3}, torch::kInt64);
  t["odd_f16"] = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat16);  // 6 bytes
  t["noncontig_transposed"] = torch::arange(24, torch::kFloat32).reshape({4, 6}).t();
  t["noncontig_strided"] = torch::arange(40, torch::kInt32).slice(0, 1, 40, 3);
  t["noncontig_expanded"] = torch::tensor({1.5, -2.0}, torch::kFloat64).expand({3, 2});
  return t;
}

void require_bitwise_equal(const std::map<std::string, torch::Tensor>& expected,
                           const std::map<std::string, torch::Tensor>& actual) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, e] : expected) {
    INFO("tensor " << name);
    REQUIRE(actual.count(name) == 1);
    const torch::Tensor& a = actual.at(name);
    REQUIRE(a.scalar_type() == e.scalar_type());
    REQUIRE(a.sizes() == e.sizes());
    REQUIRE(a.is_contiguous());
    REQUIRE(bytes_of(a) == bytes_of(e));
  }
}

std::string load_error(const std::string& path) {
  try {
    st::load(path);
  } catch (const mm::Error& e) {
    return e.what();
  }
  return "(loaded without error)";
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// A file with the given header text and data section; the length prefix is the header's size.
std::string raw_file(const std::string& header, const std::string& data) { return le64(header.size()) + header + data; }

// Writes `bytes` and requires load() (and read_header(), unless data_only) to fail with one line
// naming the file and containing `expected`.
void require_rejected(const TempDir& dir, const std::string& bytes, const std::string& expected,
                      bool data_only = false) {
  const std::string path = dir.file("hostile.safetensors");
  write_bytes(path, bytes);
  const std::string msg = load_error(path);
  INFO("error: " << msg);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find(expected) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.rfind("src/core/safetensors.cpp:", 0) == 0);
  if (!data_only) {
    std::string header_msg;
    try {
      st::read_header(path);
    } catch (const mm::Error& e) {
      header_msg = e.what();
    }
    CHECK(header_msg.find(expected) != std::string::npos);
  }
}

const std::string kEntry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kData8(8, '\1');

// ---- Python cross-check helpers ---------------------------------------------------------------

std::string find_python_with_numpy() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("MM_PYTHON")) candidates.emplace_back(env);
  candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
  for (const auto& py : candidates) {
    if (std::system((py + " -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) return py;
  }
  return {};
}

// Runs a command, returns its stdout; requires exit status 0.
std::string run_capture(const std::string& cmd) {
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  INFO("command: " << cmd << "\noutput: " << out.substr(0, 2000));
  REQUIRE(status == 0);
  return out;
}

std::string script_command(const std::string& python, const std::string& mode, const std::string& file) {
  return python + " '" MM_SOURCE_DIR "/scripts/golden/check_safetensors.py' " + mode + " '" + file + "'";
}

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// Compares tensors and metadata with check_safetensors.py's JSON description, value by value.
void require_matches_python(const json& expected, const std::map<std::string, torch::Tensor>& tensors,
                            const st::Metadata& metadata) {
  REQUIRE(expected.at("metadata") == json(metadata));
  const json& et = expected.at("tensors");
  std::set<std::string> names;
  for (const auto& item : et.items()) names.insert(item.key());
  std::set<std::string> ours;
  for (const auto& kv : tensors) ours.insert(kv.first);
  REQUIRE(names == ours);
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    const json& e = et.at(name);
    REQUIRE(e.at("dtype").get<std::string>() == st::dtype_name(t.scalar_type()));
    REQUIRE(e.at("shape").get<std::vector<int64_t>>() == t.sizes().vec());
    const json& values = e.at("values");
    REQUIRE(values.size() == static_cast<size_t>(t.numel()));
    std::string mismatches;
    if (t.is_floating_point()) {
      const torch::Tensor d = t.to(torch::kFloat64).contiguous().reshape({-1});
      const double* p = d.data_ptr<double>();
      for (size_t i = 0; i < values.size(); ++i) {
        const double v = std::strtod(values[i].get<std::string>().c_str(), nullptr);
        if (!same_double(v, p[i])) mismatches += fmt::format(" [{}] {} vs {}", i, v, p[i]);
      }
    } else {
      const torch::Tensor d = t.to(torch::kInt64).contiguous().reshape({-1});
      const int64_t* p = d.data_ptr<int64_t>();
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i].get<int64_t>() != p[i]) mismatches += fmt::format(" [{}] {} vs {}", i, values[i].dump(), p[i]);
      }
    }
    INFO("mismatches:" << mismatches);
    REQUIRE(mismatches.empty());
  }
}

}  // namespace

// ---- round trips -------------------------------------------------------------------------------

TEST_CASE("safetensors round trip of every dtype is bitwise exact", "[core][safetensors]") {
  TempDir dir;
  const auto tensors = all_dtype_tensors();
  const std::string path = dir.file("all.safetensors");
  st::save(path, tensors);
  const st::File f = st::load(path);
  require_bitwise_equal(tensors, f.tensors);
  REQUIRE(f.metadata.empty());
  for (const auto& [name, t] : f.tensors) REQUIRE(t.device().is_cpu());
  // Loading is byte-exact a second time too (a saved loaded file is identical).
  st::save(dir.file("again.safetensors"), f.tensors);
  REQUIRE(mm::io::read_file(dir.file("again.safetensors")) == mm::io::read_file(path));
  // Saving tensors that are views of the mapped file over that same file is safe (rename).
  st::save(path, f.tensors, {{"rewritten", "yes"}});
  const st::File g = st::load(path);
  require_bitwise_equal(tensors, g.tensors);
  require_bitwise_equal(tensors, f.tensors);
  REQUIRE(g.metadata.at("rewritten") == "yes");
}

TEST_CASE("safetensors metadata round trips", "[core][safetensors]") {
  TempDir dir;
  const st::Metadata meta{{"format", "pt"},
                          {"empty", ""},
                          {"unicode", "\xc3\xa9\xe4\xb8\xad"},
                          {"quote\"and\\slash", "line\nbreak"},
                          {"step", "500"}};
  const std::string path = dir.file("meta.safetensors");
  st::save(path, {{"w", torch::ones({2})}}, meta);
  const st::File f = st::load(path);
  REQUIRE(f.metadata == meta);
  REQUIRE(st::read_header(path).metadata == meta);
  // Metadata alone, no tensors.
  st::save(path, {}, meta);
  REQUIRE(st::load(path).metadata == meta);
  REQUIRE(st::load(path).tensors.empty());
}

TEST_CASE("safetensors files have the exact layout of the format", "[core][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  std::map<std::string, torch::Tensor> tensors{{"a_f16", torch::ones({3}, torch::kFloat16)},
                                               {"b_f32", torch::ones({2, 2})},
                                               {"c_f64", torch::ones({1}, torch::kFloat64)},
                                               {"d_u8", torch::ones({5}, torch::kUInt8)}};
  st::save(path, tensors, {{"k", "v"}});
  const std::string raw = mm::io::read_file(path);
  REQUIRE(raw.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
  REQUIRE((8 + n) % 8 == 0);
  const std::string header = raw.substr(8, n);
  const auto close = header.find_last_of('}');
  REQUIRE(header.find_first_not_of(' ', close + 1) == std::string::npos);  // space padding only
  REQUIRE(header.rfind("{\"__metadata__\":{\"k\":\"v\"}", 0) == 0);
  const json j = json::parse(header);
  // Data in element-size order (largest first), contiguous, covering the rest of the file.
  REQUIRE(j["c_f64"]["data_offsets"] == json({0, 8}));
  REQUIRE(j["b_f32"]["data_offsets"] == json({8, 24}));
  REQUIRE(j["a_f16"]["data_offsets"] == json({24, 30}));
  REQUIRE(j["d_u8"]["data_offsets"] == json({30, 35}));
  REQUIRE(j["b_f32"]["shape"] == json({2, 2}));
  REQUIRE(j["b_f32"]["dtype"] == "F32");
  REQUIRE(raw.size() == 8 + n + 35);

  const st::Header h = st::read_header(path);
  REQUIRE(h.data_start == 8 + n);
  REQUIRE(h.tensors.at("a_f16").dtype == "F16");
  REQUIRE(h.tensors.at("a_f16").shape == std::vector<int64_t>{3});
  REQUIRE(h.tensors.at("a_f16").begin == 24);
}

TEST_CASE("safetensors load maps tensors without copies and keeps the mapping alive", "[core][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("map.safetensors");
  const auto tensors = all_dtype_tensors();
  st::save(path, tensors);
  const st::Header h = st::read_header(path);
  torch::Tensor kept;
  {
    const st::File f = st::load(path);
    // Views into one mapping: pointers differ exactly by the header's offsets.
    const auto& ref = f.tensors.at("f64");
    const auto* base = static_cast<const char*>(ref.data_ptr()) - h.tensors.at("f64").begin;
    for (const auto& [name, t] : f.tensors) {
      if (t.numel() == 0) continue;
      INFO("tensor " << name);
      REQUIRE(static_cast<const char*>(t.data_ptr()) == base + h.tensors.at(name).begin);
      REQUIRE(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size() == 0);
    }
    kept = f.tensors.at("f32");
  }
  fs::remove(path);  // the mapping outlives both the File and the directory entry
  REQUIRE(bytes_of(kept) == bytes_of(tensors.at("f32")));
}

TEST_CASE("safetensors loaded tensors are writable without changing the file", "[core][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("cow.safetensors");
  st::save(path, {{"w", torch::arange(6, torch::kFloat32)}});
  const std::string before = mm::io::read_file(path);
  {
    st::File f = st::load(path);
    f.tensors.at("w").mul_(10);
    REQUIRE(f.tensors.at("w")[5].item<float>() == 50.f);
  }
  REQUIRE(mm::io::read_file(path) == before);
  REQUIRE(st::load(path).tensors.at("w")[5].item<float>() == 5.f);
}

TEST_CASE("safetensors unaligned data (legal, from other writers) is copied correctly", "[core][safetensors]") {
  TempDir dir;
  // An unpadded 2+... byte header: data starts at an odd address; a 1-byte tensor first.
  const std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  float values[2] = {1.25f, -3.5f};
  std::string data = "\x07" + std::string(reinterpret_cast<const char*>(values), 8);
  const std::string path = dir.file("unaligned.safetensors");
  write_bytes(path, raw_file(header, data));
  const st::File f = st::load(path);
  REQUIRE(f.tensors.at("a").item<uint8_t>() == 7);
  const torch::Tensor b = f.tensors.at("b");
  REQUIRE(reinterpret_cast<uintptr_t>(b.data_ptr()) % 4 == 0);
  REQUIRE(b[0].item<float>() == 1.25f);
  REQUIRE(b[1].item<float>() == -3.5f);
  // A header of only "{}" with no data is a valid, empty file.
  write_bytes(path, raw_file("{}", ""));
  REQUIRE(st::load(path).tensors.empty());
}

TEST_CASE("safetensors load_selected loads only the named tensors", "[core][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("sel.safetensors");
  st::save(path, {{"a", torch::ones({2})}, {"b", torch::zeros({3})}, {"c", torch::ones({1})}});
  const st::File f = st::load_selected(path, {"c", "a"});
  REQUIRE(f.tensors.size() == 2);
  REQUIRE(f.tensors.at("c").sizes() == torch::IntArrayRef{1});
  try {
    st::load_selected(path, {"a", "zz"});
    FAIL("missing name accepted");
  } catch (const mm::Error& e) {
    REQUIRE(std::string(e.what()).find("no tensor named 'zz' (the file has: a, b, c)") != std::string::npos);
  }
}

TEST_CASE("safetensors save rejects what it cannot store and leaves no file", "[core][safetensors]") {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  REQUIRE_THROWS_WITH(st::save(path, {{"c", torch::ones({2}, torch::kComplexFloat)}}),
                      Catch::Contains("tensor 'c' has dtype ComplexFloat"));
  REQUIRE_THROWS_WITH(st::save(path, {{"__metadata__", torch::ones({2})}}), Catch::Contains("reserved"));
  REQUIRE_THROWS_WITH(st::save(path, {{"bad\xff", torch::ones({2})}}),
                      Catch::Contains("cannot write the safetensors header"));
  REQUIRE_THROWS_AS(st::save(dir.file("no/such/dir.safetensors"), {{"a", torch::ones({1})}}), mm::Error);
  REQUIRE(fs::is_empty(dir.path()));
  REQUIRE(st::dtype_name(torch::kBFloat16) == "BF16");
  REQUIRE(st::scalar_type("I16") == torch::kInt16);
  REQUIRE_THROWS_AS(st::scalar_type("U16"), mm::Error);
}

// ---- the independent Python reader/writer -----------------------------------------------------

TEST_CASE("safetensors written here are read identically by the Python reader", "[core][safetensors][python]") {
  const std::string python = find_python_with_numpy();
  if (python.empty()) {
    WARN("no python3 with numpy found (set MM_PYTHON): cross-check skipped");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("from_cpp.safetensors");
  const auto tensors = all_dtype_tensors();
  const st::Metadata meta{{"format", "pt"}, {"unicode", "\xc3\xa9\xe4\xb8\xad"}, {"n", "42"}};
  st::save(path, tensors, meta);
  const json described = json::parse(run_capture(script_command(python, "dump", path)));
  require_matches_python(described, tensors, meta);
}

TEST_CASE("safetensors written by the Python writer are read correctly here", "[core][safetensors][python]") {
  const std::string python = find_python_with_numpy();
  if (python.empty()) {
    WARN("no python3 with numpy found (set MM_PYTHON): cross-check skipped");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("from_python.safetensors");
  const json written = json::parse(run_capture(script_command(python, "write", path)));
  const st::File f = st::load(path);
  require_matches_python(written, f.tensors, f.metadata);
  REQUIRE(f.tensors.size() >= 10);
}

// ---- hostile files ----------------------------------------------------------------------------

TEST_CASE("safetensors rejects a file shorter than 8 bytes", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("empty") { require_rejected(dir, "", "shorter than the 8-byte"); }
  SECTION("5 bytes") { require_rejected(dir, "\x02\0\0\0\0", "shorter than the 8-byte"); }
}

TEST_CASE("safetensors rejects a header length beyond the file", "[core][safetensors][hostile]") {
  TempDir dir;
  require_rejected(dir, le64(1000) + "{}", "runs past the end of the file");
  require_rejected(dir, le64(0), "too short");
}

TEST_CASE("safetensors rejects a header length above 100 MiB", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("just above") { require_rejected(dir, le64((100u << 20) + 1) + "{}", "above the 100 MiB limit"); }
  SECTION("2^64-1") { require_rejected(dir, le64(~uint64_t{0}) + "{}", "above the 100 MiB limit"); }
}

TEST_CASE("safetensors rejects invalid JSON", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("truncated") { require_rejected(dir, raw_file(R"({"x":)", ""), "not valid JSON"); }
  SECTION("trailing garbage") { require_rejected(dir, raw_file("{} x", ""), "not valid JSON"); }
  SECTION("NUL padding") {
    require_rejected(dir, raw_file(std::string("{}\0\0", 4), ""), "NUL byte at offset 2");
    require_rejected(dir, raw_file(std::string("{}\0{\"x\":1}", 10), ""), "NUL byte at offset 2");
  }
  SECTION("byte order mark") { require_rejected(dir, raw_file("\xEF\xBB\xBF{}", ""), "byte order mark"); }
  SECTION("invalid UTF-8") { require_rejected(dir, raw_file("{\"\xff\":1}", ""), "not valid JSON"); }
  SECTION("deep nesting") {
    require_rejected(dir, raw_file(std::string(100000, '['), ""), "nests deeper than");
    require_rejected(dir, raw_file(R"({"__metadata__":{"a":{"b":{"c":[]}}}})", ""), "nests deeper than");
  }
}

TEST_CASE("safetensors rejects a header that is not an object", "[core][safetensors][hostile]") {
  TempDir dir;
  for (const std::string h : {"[1,2]", "\"x\"", "42", "null"}) {
    INFO(h);
    require_rejected(dir, raw_file(h, ""), "must be a JSON object");
  }
}

TEST_CASE("safetensors rejects unknown dtypes", "[core][safetensors][hostile]") {
  TempDir dir;
  for (const std::string d : {"F8", "f32", "U16", ""}) {
    INFO(d);
    require_rejected(dir, raw_file(R"({"x":{"dtype":")" + d + R"(","shape":[2],"data_offsets":[0,8]}})", kData8),
                     "unknown or unsupported dtype '" + d + "'");
  }
  require_rejected(dir, raw_file(R"({"x":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kData8),
                   "dtype must be a string");
}

TEST_CASE("safetensors rejects missing or unknown fields", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("dtype") {
    require_rejected(dir, raw_file(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", kData8), "missing field 'dtype'");
  }
  SECTION("shape") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","data_offsets":[0,8]}})", kData8), "missing field 'shape'");
  }
  SECTION("data_offsets") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2]}})", kData8), "missing field 'data_offsets'");
  }
  SECTION("entry not an object") { require_rejected(dir, raw_file(R"({"x":[0,8]})", kData8), "expected an object"); }
  SECTION("unknown field") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", kData8),
                     "unknown field 'extra'");
  }
}

TEST_CASE("safetensors rejects offsets out of range or malformed", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("end past the data") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kData8),
                     "out of range");
  }
  SECTION("end before begin") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kData8),
                     "end before they begin");
  }
  SECTION("huge end") {
    require_rejected(
        dir,
        raw_file(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[18446744073709551614,18446744073709551615]}})",
                 kData8),
        "out of range");
  }
  SECTION("wrong arity") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", kData8),
                     "data_offsets must be [begin, end]");
  }
  SECTION("negative or non-integer") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kData8),
                     "non-negative integers");
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0.0,8.0]}})", kData8),
                     "non-negative integers");
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}})", kData8),
                     "non-negative integers");
  }
}

TEST_CASE("safetensors rejects overlapping offsets", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("partial overlap") {
    require_rejected(dir,
                     raw_file(R"({"x":)" + kEntry + R"(,"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              std::string(12, '\0')),
                     "overlap tensor 'x'");
  }
  SECTION("same range twice") {
    require_rejected(dir, raw_file(R"({"x":)" + kEntry + R"(,"y":)" + kEntry + "}", kData8), "overlap tensor");
  }
}

TEST_CASE("safetensors rejects gaps and trailing bytes", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("gap between tensors") {
    require_rejected(dir,
                     raw_file(R"({"x":)" + kEntry + R"(,"y":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                              std::string(20, '\0')),
                     "leave a gap of 4 unused bytes");
  }
  SECTION("gap at the start") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0')),
                     "leave a gap of 4");
  }
  SECTION("trailing bytes") {
    require_rejected(dir, raw_file(R"({"x":)" + kEntry + "}", std::string(12, '\0')), "4 trailing bytes");
  }
}

TEST_CASE("safetensors rejects a shape that does not match the byte length", "[core][safetensors][hostile]") {
  TempDir dir;
  require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kData8),
                   "needs 12 bytes but data_offsets [0, 8] hold 8");
  require_rejected(dir, raw_file(R"({"x":{"dtype":"F64","shape":[],"data_offsets":[0,4]}})", std::string(4, '\0')),
                   "needs 8 bytes");
  // A hostile shape of 100000 ones is reported in brief, not echoed whole.
  std::string ones = "[1";
  for (int i = 0; i < 99999; ++i) ones += ",1";
  ones += "]";
  const std::string path = dir.file("long.safetensors");
  write_bytes(path, raw_file(R"({"x":{"dtype":"U8","shape":)" + ones + R"(,"data_offsets":[0,8]}})", kData8));
  const std::string msg = load_error(path);
  REQUIRE(msg.find("needs 1 bytes but data_offsets [0, 8] hold 8") != std::string::npos);
  REQUIRE(msg.size() < 400);
}

TEST_CASE("safetensors rejects negative dims and overflowing shapes", "[core][safetensors][hostile]") {
  TempDir dir;
  auto with_shape = [&](const std::string& shape) {
    return raw_file(R"({"x":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,8]}})", kData8);
  };
  SECTION("negative") { require_rejected(dir, with_shape("[-2]"), "negative dimension -2"); }
  SECTION("negative pair multiplying to the right size") {
    require_rejected(dir, with_shape("[-1,-2]"), "negative dimension");
  }
  SECTION("not integers") {
    require_rejected(dir, with_shape("[2.0]"), "non-negative integers");
    require_rejected(dir, with_shape("\"2\""), "shape must be an array");
  }
  SECTION("element count overflow") { require_rejected(dir, with_shape("[4294967296,4294967296,2]"), "overflows"); }
  SECTION("byte count overflow wrapping to the right size") {
    // 2^62 + 2 elements x 4 bytes = 2^64 + 8 = 8 (mod 2^64).
    require_rejected(dir, with_shape("[4611686018427387906]"), "overflows");
  }
  SECTION("dimension beyond int64 next to a zero") {
    require_rejected(dir,
                     raw_file(R"({"x":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", ""),
                     "too large");
  }
  SECTION("number beyond 64 bits") {
    require_rejected(dir, with_shape("[100000000000000000000000]"), "non-negative integers");
  }
}

TEST_CASE("safetensors rejects duplicate names", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("tensor names") {
    require_rejected(dir, raw_file(R"({"x":)" + kEntry + R"(,"x":)" + kEntry + "}", kData8), "has the key 'x' twice");
  }
  SECTION("names with control characters stay on one line") {
    require_rejected(dir, raw_file(R"({"a\nb":)" + kEntry + R"(,"a\nb":)" + kEntry + "}", kData8),
                     "has the key 'a\\x0ab' twice");
  }
  SECTION("fields") {
    require_rejected(dir, raw_file(R"({"x":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", kData8),
                     "has the key 'dtype' twice");
  }
  SECTION("metadata keys") {
    require_rejected(dir, raw_file(R"({"__metadata__":{"a":"1","a":"2"}})", ""), "has the key 'a' twice");
  }
}

TEST_CASE("safetensors rejects metadata that is not a string map", "[core][safetensors][hostile]") {
  TempDir dir;
  SECTION("number value") {
    require_rejected(dir, raw_file(R"({"__metadata__":{"step":500}})", ""), "value of 'step' must be a string");
  }
  SECTION("null value") { require_rejected(dir, raw_file(R"({"__metadata__":{"a":null}})", ""), "must be a string"); }
  SECTION("not an object") {
    require_rejected(dir, raw_file(R"({"__metadata__":["a"]})", ""), "must be an object of strings");
  }
}

TEST_CASE("safetensors rejects BOOL bytes other than 0 and 1", "[core][safetensors][hostile]") {
  TempDir dir;
  require_rejected(dir,
                   raw_file(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\1\0\7", 3)),
                   "BOOL element 2 holds byte 7", /*data_only=*/true);
}
