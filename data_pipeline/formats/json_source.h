// JsonSource: a Source over one or more JSONL / JSON-array files whose records one converter
// (json_formats.h) turns into samples. Used by the captions, interleaved, llava and text formats.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/formats/json_formats.h"
#include "data_pipeline/formats/json_index.h"
#include "data_pipeline/formats/source.h"

namespace mm::data {

class JsonSource : public Source {
 public:
  // Indexes every file of cfg.path (a file, a glob, a brace list or a folder of .jsonl/.json),
  // parsing and checking each record (in parallel over `threads`; 0 = hardware threads, max 8).
  JsonSource(const SourceConfig& cfg, JsonConverter convert, int threads = 0);

  size_t size() const override { return spans_.size(); }
  RawSample get(size_t i) const override;
  size_t index_bytes() const override;

 private:
  struct File {
    ReadOnlyFile file;
    std::string root;
    std::string root_real;  // realpath of root, for the symlink rule of the path policy
    bool is_array = false;
  };
  void index_file(const std::string& path, int threads);
  // The record's id ("id" field, else "line N" / "element N", prefixed by the file name when
  // the source has several files) for quarantine entries.
  std::string record_id(const nlohmann::json* j, size_t file, uint32_t number) const;
  std::string location(size_t file, uint32_t number) const;

  JsonConverter convert_;
  std::vector<File> open_files_;
  std::vector<RecordSpan> spans_;    // the index: valid records of all files, in order
  std::vector<size_t> file_starts_;  // spans_ index where each file's records begin
};

}  // namespace mm::data
