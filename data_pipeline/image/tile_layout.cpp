#include "data_pipeline/image/tile_layout.h"

#include <fmt/format.h>

#include "core/check.h"

namespace mm::data {

IndicatorMode parse_indicator_mode(const std::string& name) {
  if (name == "none") return IndicatorMode::None;
  if (name == "index") return IndicatorMode::Index;
  if (name == "seps") return IndicatorMode::Seps;
  MM_FAIL("image.indicators: unknown '{}' (expected none | index | seps)", name);
}

std::string index_marker_text(const TilePos& p) { return fmt::format("({},{},{})", p.k, p.i, p.j); }

std::string ImageLayout::render(const std::string& tile_text, int64_t tokens_per_tile) const {
  std::string out;
  for (const auto& it : items) {
    if (it.kind == LayoutItem::Kind::Tile) {
      for (int64_t t = 0; t < tokens_per_tile; ++t) out += tile_text;
    } else {
      out += it.text;
    }
  }
  return out;
}

ImageLayout layout_image(const SplitPlan& plan, IndicatorMode mode, int64_t k) {
  MM_CHECK(k >= 0, "image number k must be >= 0, got {}", k);
  ImageLayout lay;
  auto separator = [&](const char* text) {
    LayoutItem s;
    s.kind = LayoutItem::Kind::Separator;
    s.text = text;
    lay.items.push_back(s);
  };
  auto tile = [&](const TilePos& pos) {
    if (mode == IndicatorMode::Index) {
      LayoutItem m;
      m.kind = LayoutItem::Kind::Marker;
      m.pos = pos;
      m.text = index_marker_text(pos);
      lay.items.push_back(m);
    }
    LayoutItem t;
    t.kind = LayoutItem::Kind::Tile;
    t.tile = int64_t(lay.positions.size());
    t.pos = pos;
    lay.items.push_back(t);
    lay.positions.push_back(pos);
  };
  for (int64_t i = 1; i <= plan.rows; ++i) {
    if (mode == IndicatorMode::Seps && i > 1) separator(kRowSep);
    for (int64_t j = 1; j <= plan.cols; ++j) {
      if (mode == IndicatorMode::Seps && j > 1) separator(kColSep);
      tile({k, i, j});
    }
  }
  if (plan.overview) {
    if (mode == IndicatorMode::Seps && plan.num_tiles() > 0) separator(kOverviewSep);
    tile({k, 0, 0});
  }
  return lay;
}

}  // namespace mm::data
