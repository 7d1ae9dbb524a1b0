// Checks shared by every format reader: the BadRecord exception readers throw for a malformed
// record, and the sample-level validation (placeholders vs images, boxes on the 0..999 grid,
// empty text).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>

#include "data_pipeline/quarantine.h"
#include "data_pipeline/sample.h"

namespace mm::data {

// Thrown by a record converter; the source turns it into a QuarantineEntry with its location.
class BadRecord : public std::runtime_error {
 public:
  BadRecord(QuarantineKind kind, const std::string& reason) : std::runtime_error(reason), kind(kind) {}
  QuarantineKind kind;
};

// The first box-like group in `text` that is off the grid, as a reason ("box [10, 20, 1200, 30]
// has a coordinate outside 0..999"); nullopt when every box is fine. A box is a bracketed group
// of exactly 2 (`[x, y]`) or 4 (`[x1, y1, x2, y2]`) integers; groups of other sizes or with
// non-integers are not boxes. A 4-box also needs x1 <= x2 and y1 <= y2.
std::optional<std::string> find_bad_box(const std::string& text);

// The first bracketed group of 2 or 4 numbers in [0, 1] with at least one decimal fraction
// ("[0.12, 0.3, 0.55, 0.8]"): a box written as 0-1 fractions, which mmtrain does not read as a box
// (boxes are integers on the 0..999 grid) and which therefore trains as plain text. nullopt if none.
std::optional<std::string> find_fraction_box(const std::string& text);

// Validates a converted sample; throws BadRecord (EmptyText, PlaceholderMismatch, BoxOutOfRange).
// Boxes are checked only when `check_boxes` and the sample has at least one image (bracketed
// numbers in text-only samples are lists and intervals, not boxes).
void validate_sample(const RawSample& s, bool check_boxes);

// True when `s` is empty or only whitespace.
bool is_blank(const std::string& s);

}  // namespace mm::data
