#include "data_pipeline/formats/json_source.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "data_pipeline/formats/record_check.h"

namespace mm::data {

namespace {

// Shortens nlohmann's parse messages ("[json.exception.parse_error.101] parse error at line 1,
// column 9: syntax error ...") to the part after the tag.
std::string short_parse_error(const std::exception& e) {
  std::string m = e.what();
  const auto tag = m.find("] ");
  if (m.rfind("[json.exception", 0) == 0 && tag != std::string::npos) m = m.substr(tag + 2);
  return m;
}

}  // namespace

JsonSource::JsonSource(const SourceConfig& cfg, JsonConverter convert, int threads) : Source(cfg), convert_(convert) {
  files_ = expand_source_paths(cfg.name, cfg.path, {".jsonl", ".json"});
  if (threads <= 0) threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  for (const auto& f : files_) index_file(f, threads);
  spans_.shrink_to_fit();
}

std::string JsonSource::location(size_t file, uint32_t number) const {
  return files_[file] + " " + record_location(open_files_[file].is_array, number);
}

std::string JsonSource::record_id(const nlohmann::json* j, size_t file, uint32_t number) const {
  if (j) {
    std::string id = json_record_id(*j);
    if (!id.empty()) return id;
  }
  std::string loc = record_location(open_files_[file].is_array, number);
  if (files_.size() > 1) loc = std::filesystem::path(files_[file]).filename().string() + " " + loc;
  return loc;
}

void JsonSource::index_file(const std::string& path, int threads) {
  const size_t file = open_files_.size();
  File f;
  f.file = ReadOnlyFile(path);
  f.root = cfg_.root.empty() ? parent_folder(path) : cfg_.root;
  f.root_real = real_path(f.root);
  MappedFile map(path);
  ScanResult scan = scan_json_records(map.data(), map.size());
  f.is_array = scan.is_array;
  open_files_.push_back(std::move(f));
  file_starts_.push_back(spans_.size());

  const RecordContext ctx{open_files_[file].root, cfg_.check_boxes, cfg_.allow_outside_root};
  const size_t n = scan.spans.size();
  std::vector<uint8_t> ok(n, 0);
  std::vector<std::vector<std::pair<size_t, QuarantineEntry>>> found(threads);
  auto check_range = [&](int t, size_t lo, size_t hi) {
    for (size_t k = lo; k < hi; ++k) {
      const RecordSpan& sp = scan.spans[k];
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(map.data() + sp.offset, map.data() + sp.offset + sp.length);
      } catch (const std::exception& e) {
        found[t].emplace_back(k,
                              QuarantineEntry{cfg_.name, record_id(nullptr, file, sp.number), QuarantineKind::BadJson,
                                              location(file, sp.number) + ": bad JSON: " + short_parse_error(e)});
        continue;
      }
      try {
        convert_(j, ctx);
        ok[k] = 1;
      } catch (const BadRecord& e) {
        found[t].emplace_back(k, QuarantineEntry{cfg_.name, record_id(&j, file, sp.number), e.kind,
                                                 location(file, sp.number) + ": " + e.what()});
      }
    }
  };
  const int used = n < 20000 ? 1 : threads;
  if (used == 1) {
    check_range(0, 0, n);
  } else {
    std::vector<std::thread> pool;
    const size_t chunk = (n + used - 1) / used;
    for (int t = 0; t < used; ++t)
      pool.emplace_back(check_range, t, std::min(n, t * chunk), std::min(n, (t + 1) * chunk));
    for (auto& th : pool) th.join();
  }
  // Merge in file order: threads own contiguous, increasing ranges.
  for (auto& v : found)
    for (auto& [k, e] : v) issues_.push_back(std::move(e));
  size_t kept = 0;
  for (size_t k = 0; k < n; ++k) kept += ok[k];
  spans_.reserve(spans_.size() + kept);
  for (size_t k = 0; k < n; ++k)
    if (ok[k]) spans_.push_back(scan.spans[k]);
  if (!scan.broken.empty()) {
    issues_.push_back(QuarantineEntry{cfg_.name, std::filesystem::path(path).filename().string(),
                                      QuarantineKind::BadJson, path + ": " + scan.broken});
  }
}

RawSample JsonSource::get(size_t i) const {
  MM_CHECK(i < spans_.size(), "source '{}': record {} out of range (size {})", cfg_.name, i, spans_.size());
  const size_t file =
      static_cast<size_t>(std::upper_bound(file_starts_.begin(), file_starts_.end(), i) - file_starts_.begin()) - 1;
  const RecordSpan& sp = spans_[i];
  const File& f = open_files_[file];
  const std::string bytes = f.file.pread(sp.offset, sp.length);
  nlohmann::json j;
  RawSample s;
  try {
    j = nlohmann::json::parse(bytes);
    s = convert_(j, RecordContext{f.root, cfg_.check_boxes, cfg_.allow_outside_root});
  } catch (const BadRecord& e) {
    throw RecordError({cfg_.name, record_id(&j, file, sp.number), e.kind, location(file, sp.number) + ": " + e.what()});
  } catch (const nlohmann::json::exception& e) {
    throw RecordError(
        {cfg_.name, record_id(nullptr, file, sp.number), QuarantineKind::BadJson,
         location(file, sp.number) + ": bad JSON (file changed since indexing?): " + short_parse_error(e)});
  }
  s.source = cfg_.name;
  s.category = cfg_.category;
  s.id = record_id(&j, file, sp.number);
  for (const auto& im : s.images) {
    struct stat st {};
    const std::string where = location(file, sp.number) + ": image file " + im.path;
    if (::stat(im.path.c_str(), &st) != 0)
      throw RecordError({cfg_.name, s.id, QuarantineKind::MissingImage, where + " does not exist"});
    if (!S_ISREG(st.st_mode)) {
      throw RecordError({cfg_.name, s.id, QuarantineKind::NotAFile,
                         where + " is " + io::file_kind(st.st_mode) + ", not a regular file"});
    }
    if (!cfg_.allow_outside_root) {
      if (std::string why = symlink_escape_problem(im.path, f.root_real); !why.empty())
        throw RecordError({cfg_.name, s.id, QuarantineKind::ImagePath, location(file, sp.number) + ": " + why});
    }
  }
  return s;
}

size_t JsonSource::index_bytes() const {
  return spans_.capacity() * sizeof(RecordSpan) + file_starts_.capacity() * sizeof(size_t);
}

}  // namespace mm::data
