#include "data_pipeline/formats/json_index.h"

#include <fmt/format.h>

#include <cstring>

#include "core/check.h"

namespace mm::data {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void push_span(std::vector<RecordSpan>& spans, size_t begin, size_t end, uint32_t number) {
  MM_CHECK(end - begin < (uint64_t{1} << 32), "a JSON record of {} bytes is larger than 4 GiB", end - begin);
  spans.push_back({static_cast<uint64_t>(begin), static_cast<uint32_t>(end - begin), number});
}

void scan_lines(const char* data, size_t size, ScanResult& r) {
  uint32_t line = 0;
  size_t pos = 0;
  while (pos < size) {
    ++line;
    const char* nl = static_cast<const char*>(std::memchr(data + pos, '\n', size - pos));
    const size_t end = nl ? static_cast<size_t>(nl - data) : size;
    bool blank = true;
    for (size_t i = pos; i < end && blank; ++i) blank = is_space(data[i]);
    if (!blank) push_span(r.spans, pos, end, line);
    pos = end + 1;
  }
}

// One JSON value starting at data[i]; returns one past its end, or npos when the file ends first.
// Brackets are counted without checking that they pair up: a mismatched element fails to parse
// later and is quarantined on its own.
size_t skip_value(const char* data, size_t size, size_t i) {
  int depth = 0;
  while (i < size) {
    const char c = data[i];
    if (c == '"') {
      for (++i; i < size; ++i) {
        if (data[i] == '\\')
          ++i;
        else if (data[i] == '"')
          break;
      }
      if (i >= size) return std::string::npos;
      ++i;
      if (depth == 0) return i;
      continue;
    }
    if (c == '{' || c == '[')
      ++depth;
    else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // end of a scalar right before the array's ']'
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',' || is_space(c))) {
      return i;  // end of a scalar
    }
    ++i;
  }
  return depth == 0 ? i : std::string::npos;
}

void scan_array(const char* data, size_t size, size_t i, ScanResult& r) {
  ++i;  // '['
  uint32_t element = 0;
  while (true) {
    while (i < size && is_space(data[i])) ++i;
    if (i >= size) {
      r.broken = fmt::format("the JSON array ends without ']' after element {}", element == 0 ? 0 : element - 1);
      return;
    }
    if (data[i] == ']' && element == 0) return;
    const size_t end = skip_value(data, size, i);
    if (end == std::string::npos || end == i) {
      r.broken =
          fmt::format("element {} at byte {} is cut off or malformed; the rest of the array is unreadable", element, i);
      return;
    }
    push_span(r.spans, i, end, element++);
    i = end;
    while (i < size && is_space(data[i])) ++i;
    if (i < size && data[i] == ',') {
      ++i;
      continue;
    }
    if (i < size && data[i] == ']') return;
    r.broken = fmt::format("expected ',' or ']' after element {} at byte {}", element - 1, i);
    return;
  }
}

}  // namespace

ScanResult scan_json_records(const char* data, size_t size) {
  ScanResult r;
  size_t i = 0;
  while (i < size && is_space(data[i])) ++i;
  if (i < size && data[i] == '[') {
    r.is_array = true;
    scan_array(data, size, i, r);
  } else {
    scan_lines(data, size, r);
  }
  return r;
}

std::string record_location(bool is_array, uint32_t number) {
  return is_array ? fmt::format("element {}", number) : fmt::format("line {}", number);
}

std::string record_location(const ScanResult& scan, const RecordSpan& span) {
  return record_location(scan.is_array, span.number);
}

}  // namespace mm::data
