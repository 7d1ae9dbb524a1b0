// The special tokens a TokenizerConfig implies: the user-defined symbols registered with
// SentencePiece (so they never split) and the position-indicator strings of one tile.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/tokenizer_config.h"

namespace mm::tok {

// Every user-defined symbol, in a fixed order, without duplicates or empty strings: the image
// token, the chat template's role markers, the index indicators (images 0..index_max_images-1,
// rows/columns 0..index_max_grid) and the seps indicators.
std::vector<std::string> special_symbols(const TokenizerConfig& cfg);

// Index-mode indicator of tile (k, i, j): e.g. "<img_0><row_1><col_2>"; (k, 0, 0) is the overview.
std::string index_marker(const TokenizerConfig& cfg, int64_t k, int64_t i, int64_t j);

}  // namespace mm::tok
