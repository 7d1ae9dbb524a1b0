#include "data_pipeline/image/image_pipeline.h"

#include "data_pipeline/image/image_bytes.h"
#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_error.h"
#include "data_pipeline/image/tile_buffers.h"
#include "data_pipeline/image/tiles.h"

namespace mm::data {

torch::Tensor tiles_tensor(const cv::Mat& rgb, const SplitPlan& plan, const ImageConfig& cfg) {
  auto t = pooled_float_tensor({plan.num_images(), 3, plan.tile, plan.tile});  // (N, 3, r, r)
  normalize_tiles(rgb, plan, cfg, t.data_ptr<float>());
  return t;
}

ProcessedImage process_image(std::string_view bytes, const ImageConfig& cfg, int64_t images_in_sample) {
  ProcessedImage out;
  const cv::Mat rgb = decode_image(bytes, cfg, &out.size);
  out.plan = plan_split(rgb.rows, rgb.cols, cfg, images_in_sample);
  out.tiles = tiles_tensor(rgb, out.plan, cfg);
  return out;
}

ProcessedImage process_image(const ImageRef& ref, const ImageConfig& cfg, int64_t images_in_sample) {
  const std::string bytes = read_image_bytes(ref);
  try {
    return process_image(std::string_view(bytes), cfg, images_in_sample);
  } catch (const ImageError& e) {
    throw ImageError(ref.display_name() + ": " + e.what());
  }
}

}  // namespace mm::data
