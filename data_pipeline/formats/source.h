// Source: one opened dataset (a registered format reader over its files) with an O(1) index:
// size() records, get(i) reads record i from disk on demand (pread), thread-safe.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/config/data_config.h"
#include "data_pipeline/quarantine.h"
#include "data_pipeline/sample.h"

namespace mm::data {

// Validation is split in two (docs/data_formats.md):
//   open time  every record is parsed and structurally checked (JSON, fields, types, placeholders,
//              assistant turn, boxes, empty text; tar members, keys and captions); malformed
//              records become open_issues() and are left out of the index, so size() counts only
//              records that passed.
//   get time   image files are checked to exist; a failure throws RecordError (quarantine it).
class Source {
 public:
  explicit Source(SourceConfig cfg) : cfg_(std::move(cfg)) {}
  virtual ~Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const SourceConfig& config() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }

  // Number of indexed (structurally valid) records.
  virtual size_t size() const = 0;
  // Record i (0 <= i < size()), read from disk. Thread-safe. Throws RecordError for a record
  // that turns out malformed when read (e.g. a missing image file), mm::Error for a bad index.
  virtual RawSample get(size_t i) const = 0;
  // Every record seen while indexing that did not make it into the index, in file order.
  const std::vector<QuarantineEntry>& open_issues() const { return issues_; }
  // The files this source reads (after glob / folder expansion).
  const std::vector<std::string>& files() const { return files_; }
  // Bytes held by the index (for the "few tens of MB for 1M records" budget).
  virtual size_t index_bytes() const = 0;

 protected:
  SourceConfig cfg_;
  std::vector<QuarantineEntry> issues_;
  std::vector<std::string> files_;
};

}  // namespace mm::data
