// Tile budgeting: encode a sample so that it fits the sequence length by lowering its tile count
// (nmax step by step down to nmin, then one tile per image) before ever rejecting it. Image
// tokens are never cut; text is never truncated here.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data_pipeline/sample.h"
#include "tokenizer/sample_encoder.h"

namespace mm::data {

// What the budget asks the image splitter for: the dynamic split with this nmax, or (single_tile)
// every image as one tile.
struct TileRequest {
  int64_t nmax = 0;
  bool single_tile = false;
  std::string describe() const;  // "nmax=9" | "single tile"
};

// Returns one layout per image of the sample for `request` (the splitter decides grids, overview
// and indicators; tok::make_image_layout builds the layout from them).
using LayoutCallback = std::function<std::vector<tok::ImageLayout>(const TileRequest& request)>;

struct BudgetOptions {
  int64_t max_len = 0;  // sequence length L the sample must fit
  int64_t nmin = 4;     // the splitter's nmin: nmax is never lowered below it
  int64_t nmax = 9;     // the configured nmax: the first request
  bool single_tile_fallback = true;
  bool split_long_text = true;  // text-only samples may exceed max_len (the packer chunks them)
  bool require_loss = true;     // reject samples where no token carries loss
};

struct BudgetResult {
  tok::EncodedSample sample;       // valid when ok()
  TileRequest used;                // the request whose layouts were used
  std::vector<TileRequest> tried;  // every request made, in order
  std::string reason;              // quarantine reason when rejected
  bool ok() const { return reason.empty(); }
  bool reduced() const { return tried.size() > 1; }
};

// Requests, in order: nmax, nmax-1, ..., nmin, then single tile (when enabled), stopping at the
// first whose sample length <= max_len. Samples without images are not budgeted. A SampleError
// from the template (placeholder mismatch ...) becomes the rejection reason.
BudgetResult encode_with_tile_budget(const tok::SampleEncoder& encoder, const RawSample& sample,
                                     const LayoutCallback& layouts, const BudgetOptions& opts);

}  // namespace mm::data
