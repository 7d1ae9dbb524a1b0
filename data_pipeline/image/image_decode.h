// decode_image: encoded bytes -> RGB uint8 cv::Mat (grayscale expanded, alpha composited on white
// or dropped, 16-bit reduced, JPEG EXIF orientation applied), refusing images over the pixel
// limit before any pixel buffer is allocated.
#pragma once
#include <opencv2/core.hpp>

#include <string_view>

#include "core/config/image_config.h"
#include "data_pipeline/image/image_probe.h"

namespace mm::data {

// Throws ImageError with the reason (empty, not an image, truncated, too large, undecodable).
// `probed` (optional) receives the header's size.
cv::Mat decode_image(std::string_view bytes, const ImageConfig& cfg, ImageSize* probed = nullptr);

}  // namespace mm::data
