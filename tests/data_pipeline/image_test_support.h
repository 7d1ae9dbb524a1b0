// What the image tests share (linked into test_image). First, the decoding before issue 28, kept
// as an independent reference: cv::imdecode (IMREAD_UNCHANGED
// for PNG and WebP, IMREAD_COLOR otherwise) + the conversion to RGB that decode_image applied
// (16-bit x / 257, gray replicated, alpha composited on white or dropped). decode_image must give
// the same bytes for every valid image (tests/data_pipeline/test_image_equal_*.cpp). Not used by
// the pipeline: libpng and libjpeg print their own lines to stderr on damaged files through it.
#pragma once
#include <opencv2/core.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace mm::data {

// RGB uint8, or an empty Mat when OpenCV cannot decode the bytes. `alpha`: "white" or "drop".
// No probe, pixel limit or completeness check: only the decoder and the conversion.
cv::Mat decode_image_opencv_reference(std::string_view bytes, const std::string& alpha = "white");

// decode_image equals the reference byte for byte (alpha white and drop), and the probed size is
// the decoded one (Catch assertions, `name` in their messages).
void require_same_as_opencv(const std::string& name, const std::string& bytes);

// What `f` writes to fd 2 (where libpng and libjpeg print) and the message of the ImageError it
// throws ("" when it throws none; any other exception propagates and fails the test).
std::pair<std::string, std::string> stderr_and_error(const std::function<void()>& f);

}  // namespace mm::data
