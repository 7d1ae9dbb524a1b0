// JPEG decoding with libjpeg(-turbo) directly, with our own error and warning handlers: the same
// pixels as cv::imdecode(bytes, IMREAD_COLOR) + BGR->RGB in OpenCV 4.6 (same library, same
// settings, same EXIF orientation), and nothing printed to stderr. docs/images.md, "Decoding".
#pragma once
#include <opencv2/core.hpp>

#include <string_view>

namespace mm::data {

// RGB uint8 (h, w), turned by the EXIF orientation as OpenCV turns it. Throws ImageError
// "corrupt JPEG: libjpeg: <libjpeg's message>" when libjpeg fails, or warns that the compressed
// data is damaged before every row is decoded (see the .cpp for which warnings count).
cv::Mat decode_jpeg_rgb(std::string_view bytes);

}  // namespace mm::data
