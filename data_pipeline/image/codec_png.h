// PNG decoding with libpng directly, with our own error and warning handlers: the same Mat as
// cv::imdecode(bytes, IMREAD_UNCHANGED) in OpenCV 4.6 (same library, same transforms), and nothing
// printed to stderr. docs/images.md, "Decoding".
#pragma once
#include <opencv2/core.hpp>

#include <string_view>

namespace mm::data {

// OpenCV's layout: 1 channel (gray, also gray + tRNS), 3 (BGR) or 4 (BGRA: an alpha channel or a
// tRNS chunk on RGB/palette images); 8-bit, or 16-bit (native order) for 16-bit files. Throws
// ImageError "corrupt PNG: libpng: <libpng's message>" on any libpng error, and on a warning that
// the image data's zlib stream is damaged; other warnings are ignored (see the .cpp).
cv::Mat decode_png_like_opencv(std::string_view bytes);

}  // namespace mm::data
