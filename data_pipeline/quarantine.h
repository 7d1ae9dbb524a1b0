// Quarantine: malformed records become entries {source, record id, kind, reason} instead of
// silently disappearing; a thread-safe sink collects them and writes quarantine.jsonl.
#pragma once
#include <cstddef>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/check.h"

namespace mm::data {

// Why a record was quarantined (a stable code for reports and tests; `reason` has the details).
enum class QuarantineKind {
  BadJson,              // the record is not valid JSON (or the file's JSON array is broken)
  MissingField,         // a required key is absent
  WrongType,            // a key holds the wrong JSON type (or an unknown role / layout)
  MissingImage,         // an image file does not exist (checked when the record is read)
  NotAFile,             // an image path names a folder, a FIFO, a device: not a regular file
  ImagePath,            // an image path breaks the path policy: a NUL, absolute, or leaving the dataset root
  PlaceholderMismatch,  // number of "<image>" placeholders != number of images
  NoAssistantTurn,      // a conversation without any assistant ("gpt") turn
  BoxOutOfRange,        // a `[x1, y1, x2, y2]` / `[x, y]` box outside the 0..999 grid (or x1 > x2)
  EmptyText,            // empty (whitespace-only) text, caption or turn
  DamagedShard,         // a tar shard (or member) is truncated, corrupt or compressed
  MissingMember,        // a WebDataset key without an image member or without a caption member
  Other,                // anything else (e.g. a later stage rejecting the sample)
};

const char* to_string(QuarantineKind kind);

struct QuarantineEntry {
  std::string source;  // source name from the config
  std::string id;      // the record's "id", else "line N" / "element N" / tar key
  QuarantineKind kind = QuarantineKind::Other;
  std::string reason;  // one line: where (file, line / member) and what was expected
};

// One JSON object per line: {"source", "id", "kind", "reason"}; with `issue` (data lint's name for
// the problem) {"source", "id", "kind", "issue", "reason"}.
std::string to_json_line(const QuarantineEntry& e, const std::string& issue = "");

// Thrown by Source::get (and later stages) for a record that must be quarantined; the caller
// adds entry() to its Quarantine sink and moves on to the next sample.
class RecordError : public mm::Error {
 public:
  explicit RecordError(QuarantineEntry e);
  const QuarantineEntry& entry() const { return entry_; }

 private:
  QuarantineEntry entry_;
};

// Thread-safe collector. Duplicate entries (same source, id and reason: a record met again in
// a later epoch) are kept once. With a path, every new entry is also appended to that file
// immediately (one line, flushed), so a crash loses nothing.
class Quarantine {
 public:
  Quarantine() = default;
  explicit Quarantine(const std::string& jsonl_path);  // appends to an existing file

  // Returns true when the entry was new.
  bool add(const QuarantineEntry& e);
  void add_all(const std::vector<QuarantineEntry>& entries);

  size_t size() const;
  std::vector<QuarantineEntry> entries() const;  // in arrival order
  // Writes every entry collected so far to `path` (truncating it).
  void write_jsonl(const std::string& path) const;

 private:
  mutable std::mutex mu_;
  std::vector<QuarantineEntry> entries_;
  std::set<std::tuple<std::string, std::string, std::string>> seen_;
  std::ofstream out_;
  std::string path_;
};

}  // namespace mm::data
