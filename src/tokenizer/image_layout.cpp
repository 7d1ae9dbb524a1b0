#include "tokenizer/image_layout.h"

#include "core/check.h"
#include "tokenizer/special_tokens.h"

namespace mm::tok {

Indicators parse_indicators(const std::string& name) {
  if (name == "none") return Indicators::None;
  if (name == "index") return Indicators::Index;
  if (name == "seps") return Indicators::Seps;
  MM_FAIL("position indicators \"{}\": expected none | index | seps", name);
}

const char* indicators_name(Indicators mode) {
  switch (mode) {
    case Indicators::None:
      return "none";
    case Indicators::Index:
      return "index";
    case Indicators::Seps:
      return "seps";
  }
  return "?";
}

int64_t ImageLayout::tiles() const {
  int64_t n = 0;
  for (const auto& it : items) n += it.tile ? 1 : 0;
  return n;
}

std::string ImageLayout::describe() const { return render("T"); }

std::string ImageLayout::render(const std::string& tile_text, int64_t tokens_per_tile) const {
  std::string s;
  for (const auto& it : items) {
    if (!it.tile) {
      s += it.marker;
      continue;
    }
    for (int64_t t = 0; t < tokens_per_tile; ++t) s += tile_text;
  }
  return s;
}

ImageLayout make_image_layout(const TokenizerConfig& cfg, Indicators mode, int64_t k, int64_t rows, int64_t cols,
                              bool overview) {
  MM_CHECK(rows >= 0 && cols >= 0 && (rows == 0) == (cols == 0), "image layout: bad grid {}x{}", rows, cols);
  MM_CHECK(rows > 0 || overview, "image layout: an image needs at least one tile (grid 0x0 without overview)");
  ImageLayout l;
  auto marker = [&](const std::string& m) {
    if (!m.empty()) l.items.push_back({false, m});
  };
  auto tile = [&] { l.items.push_back({true, {}}); };
  for (int64_t i = 1; i <= rows; ++i) {
    if (mode == Indicators::Seps && i > 1) marker(cfg.sep_row);
    for (int64_t j = 1; j <= cols; ++j) {
      if (mode == Indicators::Index) marker(index_marker(cfg, k, i, j));
      if (mode == Indicators::Seps && j > 1) marker(cfg.sep_col);
      tile();
    }
  }
  if (overview) {
    if (mode == Indicators::Index) marker(index_marker(cfg, k, 0, 0));
    if (mode == Indicators::Seps && rows > 0) marker(cfg.sep_overview);
    tile();
  }
  return l;
}

}  // namespace mm::tok
