#include "data_pipeline/loader/sample_pipeline.h"

#include <opencv2/core.hpp>

#include "data_pipeline/image/image_bytes.h"
#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_error.h"
#include "data_pipeline/image/image_pipeline.h"
#include "data_pipeline/image/split_plan.h"
#include "data_pipeline/packing/tile_budget.h"

namespace mm::data {

int64_t EncodedItem::num_tiles() const {
  int64_t n = 0;
  for (const auto& t : tiles) n += t.size(0);
  return n;
}

SamplePipeline::SamplePipeline(tok::SampleEncoder encoder, SamplePipelineOptions opts)
    : encoder_(std::move(encoder)), opts_(std::move(opts)), indicators_(tok::parse_indicators(opts_.image.indicators)) {
  validate_image_config(opts_.image);
  MM_CHECK(opts_.seq_len > 0, "loader: seq_len must be positive, got {}", opts_.seq_len);
}

EncodedItem SamplePipeline::encode(const Source& src, int64_t index) const {
  try {
    return encode(src.get(static_cast<size_t>(index)));
  } catch (const RecordError& e) {
    EncodedItem item;
    item.source = src.name();
    item.id = e.entry().id;
    item.error = e.entry();
    return item;
  }
}

EncodedItem SamplePipeline::encode(const RawSample& s) const {
  EncodedItem item;
  item.source = s.source;
  item.id = s.id;
  auto fail = [&](QuarantineKind kind, std::string reason) {
    item.error = QuarantineEntry{s.source, s.id, kind, std::move(reason)};
    item.tiles.clear();
    return item;
  };
  const int64_t n_images = static_cast<int64_t>(s.images.size());
  const int64_t n_holders = count_image_placeholders(s);
  if (n_holders != n_images) {
    return fail(QuarantineKind::PlaceholderMismatch,
                fmt::format("{} \"<image>\" placeholder(s) but {} image(s)", n_holders, n_images));
  }
  // Decode every image once; the budget below only re-plans the split on the known sizes.
  std::vector<cv::Mat> rgb(n_images);
  for (int64_t k = 0; k < n_images; ++k) {
    try {
      const std::string bytes = read_image_bytes(s.images[k]);
      rgb[k] = decode_image(bytes, opts_.image);
    } catch (const ImageError& e) {
      return fail(QuarantineKind::Other, fmt::format("image {} ({}): {}", k, s.images[k].display_name(), e.what()));
    }
  }
  const ImageConfig& cfg = opts_.image;
  const bool dynamic = parse_split_mode(cfg.mode) == SplitMode::Dynamic;
  std::vector<SplitPlan> plans(n_images);
  const TokenizerConfig& tok_cfg = encoder_.tokenizer().config();
  auto layouts = [&](const TileRequest& req) {
    ImageConfig c = cfg;
    if (req.single_tile) {
      c.mode = "single";
    } else if (dynamic) {
      c.nmax = req.nmax;
    }
    std::vector<tok::ImageLayout> out;
    for (int64_t k = 0; k < n_images; ++k) {
      plans[k] = plan_split(rgb[k].rows, rgb[k].cols, c, n_images);
      out.push_back(tok::make_image_layout(tok_cfg, indicators_, k, plans[k].rows, plans[k].cols, plans[k].overview));
    }
    return out;
  };
  BudgetOptions bo;
  bo.max_len = opts_.seq_len;
  bo.nmin = dynamic ? cfg.nmin : 1;  // fixed splits: one try with the config, then single tile
  bo.nmax = dynamic ? cfg.nmax : 1;
  bo.split_long_text = opts_.split_long_text;
  BudgetResult r = encode_with_tile_budget(encoder_, s, layouts, bo);
  if (!r.ok()) return fail(QuarantineKind::Other, r.reason);
  item.budget_steps = r.tried.empty() ? 0 : static_cast<int64_t>(r.tried.size()) - 1;
  item.sample = std::move(r.sample);
  for (int64_t k = 0; k < n_images; ++k) {
    item.tiles.push_back(tiles_tensor(rgb[k], plans[k], cfg));  // (n_k, 3, r, r)
  }
  // Silent-failure invariant: the token run of every image holds exactly its tiles.
  MM_CHECK(item.sample.image_slots.size() == static_cast<size_t>(n_images), "loader: {} image runs for {} images in {}",
           item.sample.image_slots.size(), n_images, s.id);
  for (int64_t k = 0; k < n_images; ++k) {
    MM_CHECK(static_cast<int64_t>(item.sample.image_slots[k].tile_starts.size()) == item.tiles[k].size(0),
             "loader: image {} of {} has {} tile slots but {} tiles", k, s.id,
             item.sample.image_slots[k].tile_starts.size(), item.tiles[k].size(0));
  }
  return item;
}

}  // namespace mm::data
