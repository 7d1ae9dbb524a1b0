// MANIFEST writing, parsing and verification.
#include "models/checkpoint/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/hash.h"
#include "core/io.h"

namespace mm {

std::string format_manifest(const std::vector<ManifestEntry>& entries) {
  std::string out = "mmtrain-manifest 1\n";
  for (const auto& e : entries) out += fmt::format("{} {} fnv1a64:{:016x}\n", e.file, e.size, e.hash);
  return out;
}

std::vector<ManifestEntry> parse_manifest(std::string_view text, const std::string& origin) {
  std::istringstream in{std::string(text)};
  std::string line;
  MM_CHECK(std::getline(in, line) && line == "mmtrain-manifest 1",
           "{}: line 1: expected 'mmtrain-manifest 1', got '{}'", origin, line);
  std::vector<ManifestEntry> out;
  int lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream ls(line);
    ManifestEntry e;
    std::string hash;
    MM_CHECK(
        static_cast<bool>(ls >> e.file >> e.size >> hash) && hash.rfind("fnv1a64:", 0) == 0 && hash.size() == 8 + 16,
        "{}: line {}: expected '<file> <size> fnv1a64:<16 hex digits>', got '{}'", origin, lineno, line);
    try {
      std::size_t used = 0;
      e.hash = std::stoull(hash.substr(8), &used, 16);
      MM_CHECK(used == 16, "bad hex");
    } catch (const std::exception&) {
      MM_FAIL("{}: line {}: '{}' is not a 16-digit hex hash", origin, lineno, hash);
    }
    out.push_back(std::move(e));
  }
  return out;
}

ManifestEntry describe_file(const std::string& path, const std::string& file) {
  io::MappedFile m(path);
  ManifestEntry e{file, m.size(), 0};
  e.hash = fnv1a64(std::string_view(reinterpret_cast<const char*>(m.data()), m.size()));
  if (m.size() == 0) e.hash = fnv1a64({});
  return e;
}

std::string verify_folder(const std::string& dir, const std::vector<std::string>& required,
                          const std::vector<std::string>& size_only) {
  namespace fs = std::filesystem;
  try {
    const std::string mpath = (fs::path(dir) / "MANIFEST").string();
    if (!fs::exists(mpath)) return mpath + ": missing (the checkpoint was never completed)";
    const auto entries = parse_manifest(io::read_file(mpath), mpath);
    std::set<std::string> listed;
    for (const auto& e : entries) {
      listed.insert(e.file);
      const fs::path p = fs::path(dir) / e.file;
      std::error_code ec;
      const auto size = fs::file_size(p, ec);
      if (ec) return fmt::format("{}: missing or unreadable ({})", p.string(), ec.message());
      if (size != e.size)
        return fmt::format("{}: size {} bytes, MANIFEST says {} (truncated or rewritten)", p.string(), size, e.size);
      if (std::find(size_only.begin(), size_only.end(), e.file) != size_only.end()) continue;
      const auto actual = describe_file(p.string(), e.file);
      if (actual.hash != e.hash)
        return fmt::format("{}: hash fnv1a64:{:016x}, MANIFEST says fnv1a64:{:016x} (corrupted)", p.string(),
                           actual.hash, e.hash);
    }
    for (const auto& r : required)
      if (!listed.count(r)) return fmt::format("{}: does not list required file '{}'", mpath, r);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace mm
