// Fixture helpers for the format tests: files, JSONL writers, tar shards written with libarchive's
// writer, and "which kinds got quarantined" summaries (temporary folders: support/temp_dir.h).
#pragma once
#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "data_pipeline/formats/registry.h"
#include "data_pipeline/quarantine.h"
#include "support/temp_dir.h"

namespace mm::test {

inline void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

inline void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  write_file(path, all);
}

// Writes an uncompressed (or, with `filter`, compressed) tar with libarchive's writer.
inline void write_tar(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members,
                      int filter = ARCHIVE_FILTER_NONE) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == ARCHIVE_FILTER_GZIP) archive_write_add_filter_gzip(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) {
    archive_write_free(a);
    throw std::runtime_error("write_tar: cannot create " + path);
  }
  for (const auto& [name, data] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

inline SourceConfig source_config(const std::string& name, const std::string& format, const std::string& path) {
  SourceConfig c;
  c.name = name;
  c.format = format;
  c.path = path;
  return c;
}

// kind -> number of entries.
inline std::map<std::string, int> kinds_of(const std::vector<data::QuarantineEntry>& entries) {
  std::map<std::string, int> m;
  for (const auto& e : entries) ++m[data::to_string(e.kind)];
  return m;
}

// The kind of the RecordError that get(i) throws, or "" when it returns a sample.
inline std::string get_error_kind(const data::Source& s, size_t i) {
  try {
    s.get(i);
  } catch (const data::RecordError& e) {
    return data::to_string(e.entry().kind);
  }
  return "";
}

}  // namespace mm::test
