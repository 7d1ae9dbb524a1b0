// The good Hugging Face folders of tests/data/golden/hf/ (written by scripts/golden/gen_hf_folders.py), copied so a
// test can break them, and the one-line error check of the import tests (test_hf_import_errors.cpp,
// test_hf_import_vision_errors.cpp).
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mm::test {

inline std::string hf_golden_dir(const std::string& name) {
  return std::string(MM_SOURCE_DIR) + "/tests/data/golden/hf/" + name;
}

// A copy of the good folder `name` as to/name.
inline std::string copy_hf_golden(const std::filesystem::path& to, const std::string& name) {
  const std::string dst = (to / name).string();
  std::filesystem::copy(hf_golden_dir(name), dst, std::filesystem::copy_options::recursive);
  return dst;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}
inline void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

// `err` is an error (not error_of's "<no error>") of one line holding every one of `parts`.
inline void check_one_line(const std::string& err, const std::vector<std::string>& parts) {
  INFO(err);
  CHECK(err.find('\n') == std::string::npos);
  CHECK(err != "<no error>");
  for (const auto& p : parts) CHECK(err.find(p) != std::string::npos);
}

}  // namespace mm::test
