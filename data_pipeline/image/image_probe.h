// probe_image_size: an image's format and dimensions read from its header only (PNG, JPEG, BMP,
// GIF, WebP), so pixel limits and tile budgets are known without decoding or allocating.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mm::data {

enum class ImageFormat { Png, Jpeg, Bmp, Gif, Webp };
const char* image_format_name(ImageFormat f);

struct ImageSize {
  int64_t height = 0;  // as displayed: EXIF orientations 5..8 (90 degree turns) already swap h/w
  int64_t width = 0;
  ImageFormat format = ImageFormat::Png;
  bool has_alpha = false;    // the header declares an alpha channel (PNG colour type 4/6, WebP)
  int exif_orientation = 1;  // JPEG EXIF orientation tag (1 = upright), 1 for other formats
  int64_t pixels() const { return height * width; }
};

// Reads the header; throws ImageError("empty image data" / "not an image: ..." /
// "truncated header" / "zero-sized image ...") when it cannot.
ImageSize probe_image_size(std::string_view bytes);

// Checks that the encoded stream is complete (JPEG has its end-of-image marker after the scan,
// PNG: every chunk up to IEND is whole and passes its CRC, so a damaged file is our one line, not libpng's own
// stderr lines; WebP/BMP hold as many bytes as their headers announce). Decoders such as
// libjpeg otherwise return a half-grey image from a truncated file. Throws ImageError.
void check_image_complete(std::string_view bytes, const ImageSize& size);

}  // namespace mm::data
