#include "tests/data_pipeline/image_test_support.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include <cstring>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_error.h"

namespace mm::data {

cv::Mat decode_image_opencv_reference(std::string_view bytes, const std::string& alpha) {
  auto starts = [&](const char* magic, size_t n, size_t at = 0) {
    return bytes.size() >= at + n && std::memcmp(bytes.data() + at, magic, n) == 0;
  };
  const bool unchanged = starts("\x89PNG", 4) || (starts("RIFF", 4) && starts("WEBP", 4, 8));
  const cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat img = cv::imdecode(buf, unchanged ? cv::IMREAD_UNCHANGED : cv::IMREAD_COLOR);
  if (img.empty()) return img;
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  cv::Mat rgb;
  if (img.channels() == 1) {
    cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB);
  } else if (img.channels() == 3) {
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  } else if (alpha == "drop") {
    cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB);
  } else {  // BGRA composited on white: out = (c*a + 255*(255-a)) / 255, rounded
    rgb.create(img.rows, img.cols, CV_8UC3);
    for (int y = 0; y < img.rows; ++y) {
      const uint8_t* s = img.ptr<uint8_t>(y);
      uint8_t* d = rgb.ptr<uint8_t>(y);
      for (int x = 0; x < img.cols; ++x, s += 4, d += 3) {
        const int a = s[3], bg = 255 * (255 - a) + 127;
        for (int c = 0; c < 3; ++c) d[c] = uint8_t((s[2 - c] * a + bg) / 255);
      }
    }
  }
  return rgb;
}

void require_same_as_opencv(const std::string& name, const std::string& bytes) {
  INFO(name);
  for (const char* alpha : {"white", "drop"}) {
    INFO("alpha " << alpha);
    const cv::Mat ref = decode_image_opencv_reference(bytes, alpha);
    REQUIRE_FALSE(ref.empty());
    mm::ImageConfig cfg;
    cfg.alpha = alpha;
    ImageSize size;
    const cv::Mat ours = decode_image(bytes, cfg, &size);
    REQUIRE(ours.type() == ref.type());
    REQUIRE(ours.size() == ref.size());
    CHECK(size.height == ours.rows);
    CHECK(size.width == ours.cols);
    CHECK(cv::norm(ours, ref, cv::NORM_INF) == 0);
  }
}

std::pair<std::string, std::string> stderr_and_error(const std::function<void()>& f) {
  std::fflush(stderr);
  char path[] = "/tmp/mm_stderr_XXXXXX";
  const int tmp = ::mkstemp(path);
  REQUIRE(tmp >= 0);
  ::unlink(path);
  const int saved = ::dup(2);
  ::dup2(tmp, 2);
  std::string error;
  try {
    f();
  } catch (const ImageError& e) {
    error = e.what();
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string out(1 << 16, '\0');
  const ssize_t n = ::pread(tmp, out.data(), out.size(), 0);
  out.resize(n > 0 ? size_t(n) : 0);
  ::close(tmp);
  return {out, error};
}

}  // namespace mm::data
