// The compact index of a JSON dataset file: the byte range of every record, found by one
// sequential scan of a memory map. Works for JSONL (one record per line) and for a JSON array
// file (one record per top-level element); 16 bytes per record.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::data {

struct RecordSpan {
  uint64_t offset = 0;  // first byte of the record in the file
  uint32_t length = 0;  // bytes
  uint32_t number = 0;  // JSONL: 1-based line number; JSON array: 0-based element index
};

struct ScanResult {
  bool is_array = false;          // the file is one JSON array (first non-space byte is '[')
  std::vector<RecordSpan> spans;  // candidate records, in file order
  std::string broken;             // non-empty: the array's structure breaks here (records after it are lost)
};

// Splits `data` into records: JSONL lines (blank lines are not records) or JSON array elements.
ScanResult scan_json_records(const char* data, size_t size);

// "line 12" or "element 11".
std::string record_location(const ScanResult& scan, const RecordSpan& span);
std::string record_location(bool is_array, uint32_t number);

}  // namespace mm::data
