#include "data_pipeline/image/image_decode.h"

#include <fmt/format.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data_pipeline/image/codec_jpeg.h"
#include "data_pipeline/image/codec_png.h"
#include "data_pipeline/image/image_error.h"

namespace mm::data {
namespace {

// BGRA -> RGB composited on white: out = (c*a + 255*(255-a)) / 255, rounded.
cv::Mat composite_on_white(const cv::Mat& bgra) {
  cv::Mat out(bgra.rows, bgra.cols, CV_8UC3);
  for (int y = 0; y < bgra.rows; ++y) {
    const uint8_t* s = bgra.ptr<uint8_t>(y);
    uint8_t* d = out.ptr<uint8_t>(y);
    for (int x = 0; x < bgra.cols; ++x, s += 4, d += 3) {
      const int a = s[3], bg = 255 * (255 - a) + 127;
      d[0] = uint8_t((s[2] * a + bg) / 255);
      d[1] = uint8_t((s[1] * a + bg) / 255);
      d[2] = uint8_t((s[0] * a + bg) / 255);
    }
  }
  return out;
}

}  // namespace

cv::Mat decode_image(std::string_view bytes, const ImageConfig& cfg, ImageSize* probed) {
  const ImageSize size = probe_image_size(bytes);
  if (probed) *probed = size;
  if (size.pixels() > cfg.max_pixels) {
    throw ImageError(fmt::format("image too large: {}x{} = {} pixels > image.max_pixels {}", size.width, size.height,
                                 size.pixels(), cfg.max_pixels));
  }
  check_image_complete(bytes, size);
  // PNG and JPEG: libpng and libjpeg called directly with our own message handlers (codec_png.h,
  // codec_jpeg.h): OpenCV 4.6's settings, hence its pixels, but nothing printed to stderr. JPEG
  // comes back as RGB with the EXIF orientation applied; PNG in cv::imdecode's IMREAD_UNCHANGED
  // layout (gray, BGR or BGRA, 8 or 16 bits), converted below. BMP/GIF: straight to 3 channels;
  // WebP: unchanged, to see alpha.
  if (size.format == ImageFormat::Jpeg) return decode_jpeg_rgb(bytes);
  cv::Mat img;
  if (size.format == ImageFormat::Png) {
    img = decode_png_like_opencv(bytes);
  } else {
    const bool unchanged = size.format == ImageFormat::Webp;
    const cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    try {
      img = cv::imdecode(buf, unchanged ? cv::IMREAD_UNCHANGED : cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
      throw ImageError(fmt::format("corrupt {}: decoder failed: {}", image_format_name(size.format), e.what()));
    }
    if (img.empty()) {
      throw ImageError(fmt::format("corrupt or unsupported {} ({}x{}): OpenCV could not decode it",
                                   image_format_name(size.format), size.width, size.height));
    }
  }
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  if (img.depth() != CV_8U)
    throw ImageError(fmt::format("unsupported pixel depth in {}", image_format_name(size.format)));
  cv::Mat rgb;
  switch (img.channels()) {
    case 1:
      cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      if (cfg.alpha == "drop") {
        cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB);
      } else {
        rgb = composite_on_white(img);
      }
      break;
    default:
      throw ImageError(
          fmt::format("unsupported channel count {} in {}", img.channels(), image_format_name(size.format)));
  }
  return rgb;
}

}  // namespace mm::data
