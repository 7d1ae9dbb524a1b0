// Typed configuration of data sources (plain structs, visit() pattern of model_config.h).
#pragma once
#include <cstdint>
#include <string>

#include "core/config/rules.h"

namespace mm {

// One dataset on disk: a name, its format (a registered reader), where it lives, its capability
// category and its weight inside that category.
struct SourceConfig {
  std::string name;                  // unique; shows up in metrics and quarantine entries
  std::string format;                // wds | captions | interleaved | llava | text
  std::string path;                  // file, glob of shards, or folder (per format)
  std::string root;                  // images are relative to this (default: the file's folder)
  std::string category = "general";  // general, text-rich, refer&ground, knowledge, multi-image, text-only, ...
  double weight = 1.0;               // relative weight inside its category
  bool check_boxes = true;           // quarantine samples with images whose [x1, y1, x2, y2] / [x, y] leave 0..999
  bool allow_outside_root = false;   // image paths may be absolute or leave `root` (../, symlinks)

  template <class V>
  void visit(V& v) {
    v("name", name, "unique source name", cfg::required() & cfg::non_empty());
    v("format", format, "reader: wds | captions | interleaved | llava | text", cfg::required() & cfg::non_empty());
    v("path", path, "dataset file, shard glob or folder", cfg::required() & cfg::non_empty() & cfg::input_path());
    v("root", root, "folder that image paths are relative to (default: the dataset file's folder)", cfg::input_path());
    v("category", category, "capability category");
    v("weight", weight, "weight inside its category", cfg::non_negative());
    v("check_boxes", check_boxes,
      "quarantine samples with images whose integer [x1, y1, x2, y2] / [x, y] groups leave the 0..999 grid");
    v("allow_outside_root", allow_outside_root,
      "image paths may be absolute or leave the root (../, symlinks); default: such records are quarantined");
  }
};

}  // namespace mm
