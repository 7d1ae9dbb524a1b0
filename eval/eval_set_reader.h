// Reads an eval set (JSONL, one item a line; docs/evaluation.md) into EvalItems. A malformed line
// never stops the read and never disappears: it becomes a SkippedItem naming file:line and why.
#pragma once
#include <string>
#include <vector>

#include "eval/eval_item.h"

namespace mm::eval {

struct SkippedItem {
  std::string file;
  size_t line = 0;     // 1-based
  std::string reason;  // one line
  std::string message() const { return file + ":" + std::to_string(line) + ": " + reason; }
};

struct EvalSet {
  std::string path;
  std::string hash;                  // fnv1a64_hex of the file's bytes (the eval report records it)
  std::vector<EvalItem> items;       // in file order
  std::vector<SkippedItem> skipped;  // malformed lines, in file order
};

struct ReadOptions {
  bool check_images = true;  // an item whose image file does not exist is skipped
};

// Throws mm::Error when the file cannot be read; every malformed line (bad JSON, missing or
// mistyped key, unknown category/metric, `<image>` count != images, a multiple-choice reference
// that names no option, a grounding reference that is not a box, duplicate id, a benchmark whose
// category or metric differs from its first line, a missing image) is skipped, listed and logged.
EvalSet read_eval_set(const std::string& path, const ReadOptions& options = {});

// The same checks on one line's text; returns "" when the line is a valid item (filled in *item),
// else the reason. `dir` resolves relative image paths. Duplicate ids and benchmark consistency
// are checked by read_eval_set.
std::string parse_eval_item(const std::string& line, const std::string& dir, bool check_images, EvalItem* item);

}  // namespace mm::eval
