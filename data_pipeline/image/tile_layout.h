// The sequence layout of one image's tiles with its position indicators (MM1.5: none | index |
// seps), as data the tokenizer turns into tokens: tile slots interleaved with markers/separators.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data_pipeline/image/split_plan.h"

namespace mm::data {

enum class IndicatorMode { None, Index, Seps };
IndicatorMode parse_indicator_mode(const std::string& name);  // throws mm::Error listing the valid names

// Position of a tile: k = image number in the sample (from 0), i/j = 1-based row/column;
// (k, 0, 0) is the overview.
struct TilePos {
  int64_t k = 0, i = 0, j = 0;
  bool operator==(const TilePos& o) const { return k == o.k && i == o.i && j == o.j; }
};

// Separator texts of the seps variant ("<n>" is the row break of the paper; the tokenizer is
// expected to register these as symbols).
inline constexpr const char* kColSep = ",";
inline constexpr const char* kRowSep = "<n>";
inline constexpr const char* kOverviewSep = ":";

struct LayoutItem {
  enum class Kind { Tile, Marker, Separator };
  Kind kind = Kind::Tile;
  int64_t tile = -1;  // Tile: index into the image's tile stack (tiles row-major, overview last)
  TilePos pos;        // Tile and Marker: the tile's position
  std::string text;   // Marker: index_marker_text(pos); Separator: kColSep | kRowSep | kOverviewSep
};

struct ImageLayout {
  std::vector<LayoutItem> items;    // sequence order
  std::vector<TilePos> positions;   // per tile of the stack, stack order (overview last)
  int64_t num_tiles() const { return int64_t(positions.size()); }
  // Text form: each tile slot as `tile_text` repeated `tokens_per_tile` times, markers and
  // separators as their text; e.g. index mode, 1x2 + overview, tile_text "<T>", 1 token:
  // "(0,1,1)<T>(0,1,2)<T>(0,0,0)<T>".
  std::string render(const std::string& tile_text, int64_t tokens_per_tile = 1) const;
};

// "(k,i,j)": the index marker's text.
std::string index_marker_text(const TilePos& p);

// Index: a marker before every tile, the overview's is (k,0,0). Seps: "," between the tiles of a
// row, "<n>" between rows, ":" before the overview when tiles precede it. None: tiles only.
ImageLayout layout_image(const SplitPlan& plan, IndicatorMode mode, int64_t k);

}  // namespace mm::data
