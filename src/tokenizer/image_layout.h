// ImageLayout: how one image expands in the token stream: its tiles (tokens_per_tile image slots
// each) and the position-indicator markers around them, in order. Built from the dynamic split's
// grid (data_pipeline/image/) by make_image_layout; the tokenizer never sees pixels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/tokenizer_config.h"

namespace mm::tok {

// Position indicators (MM15_SPEC.md section 2).
enum class Indicators { None, Index, Seps };
Indicators parse_indicators(const std::string& name);  // none | index | seps
const char* indicators_name(Indicators mode);

struct ImageLayout {
  // One step of the image's token run: a marker string (tokenised as text; the indicator tokens
  // are user-defined symbols) or one tile.
  struct Item {
    bool tile = false;
    std::string marker;  // when !tile
  };
  std::vector<Item> items;

  int64_t tiles() const;         // sub-images, overview included
  std::string describe() const;  // "T,T<n>T,T:T" style, for logs and tests
  // Markers as their text, each tile as `tile_text` repeated tokens_per_tile times (what the
  // token run looks like; `mmtrain preprocess` prints it).
  std::string render(const std::string& tile_text, int64_t tokens_per_tile = 1) const;
};

// The layout of image number `k` of a sample split into a rows x cols grid (row-major), plus the
// overview after the tiles when `overview`. A single-tile image is rows = cols = 0 with overview.
//   none : T ... T O
//   index: (k,1,1) T (k,1,2) T ... (k,0,0) O     each (k,i,j) = index_marker(cfg, k, i, j)
//   seps : T , T <n> T , T : O                   ("," between columns, "<n>" between rows,
//                                                   ":" before the overview when tiles precede it)
ImageLayout make_image_layout(const TokenizerConfig& cfg, Indicators mode, int64_t k, int64_t rows, int64_t cols,
                              bool overview);

}  // namespace mm::tok
