// Decoding to RGB (PNG, JPEG, grayscale, RGBA, 16-bit, EXIF orientation) and rejecting empty,
// truncated, garbage and over-limit images with a reason.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>

#include <opencv2/imgcodecs.hpp>

#include <string>
#include <vector>

#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_error.h"
#include "tests/data_pipeline/image_test_support.h"

using namespace mm::data;

namespace {

std::string encode(const cv::Mat& m, const std::string& ext, std::vector<int> params = {}) {
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(ext, m, buf, params));
  return std::string(buf.begin(), buf.end());
}

// 6 x 4 BGR image: left half pure red, right half pure blue (in BGR order as OpenCV stores it).
cv::Mat red_blue() {
  cv::Mat m(4, 6, CV_8UC3, cv::Scalar(0, 0, 255));
  m(cv::Rect(3, 0, 3, 4)).setTo(cv::Scalar(255, 0, 0));
  return m;
}

cv::Vec3b px(const cv::Mat& m, int y, int x) { return m.at<cv::Vec3b>(y, x); }

}  // namespace

TEST_CASE("decode PNG and JPEG to RGB", "[image][decode]") {
  mm::ImageConfig cfg;
  ImageSize size;
  cv::Mat rgb = decode_image(encode(red_blue(), ".png"), cfg, &size);
  CHECK(size.format == ImageFormat::Png);
  REQUIRE(rgb.type() == CV_8UC3);
  CHECK(rgb.rows == 4);
  CHECK(rgb.cols == 6);
  CHECK(px(rgb, 0, 0) == cv::Vec3b(255, 0, 0));  // red first: RGB order
  CHECK(px(rgb, 3, 5) == cv::Vec3b(0, 0, 255));

  cv::Mat big(64, 96, CV_8UC3, cv::Scalar(0, 0, 255));  // solid red survives JPEG almost exactly
  rgb = decode_image(encode(big, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95}), cfg, &size);
  CHECK(size.format == ImageFormat::Jpeg);
  CHECK(rgb.rows == 64);
  CHECK(rgb.cols == 96);
  const cv::Vec3b c = px(rgb, 32, 48);
  CHECK(c[0] > 240);
  CHECK(c[1] < 15);
  CHECK(c[2] < 15);
}

TEST_CASE("decode grayscale, 16-bit and RGBA images", "[image][decode]") {
  mm::ImageConfig cfg;
  cv::Mat gray(5, 7, CV_8UC1, cv::Scalar(77));
  cv::Mat rgb = decode_image(encode(gray, ".png"), cfg);
  REQUIRE(rgb.type() == CV_8UC3);
  CHECK(px(rgb, 2, 3) == cv::Vec3b(77, 77, 77));
  rgb = decode_image(encode(gray, ".jpg"), cfg);
  REQUIRE(rgb.type() == CV_8UC3);
  CHECK(std::abs(int(px(rgb, 2, 3)[0]) - 77) <= 2);

  cv::Mat deep(3, 3, CV_16UC3, cv::Scalar(0, 257 * 100, 65535));  // BGR 16-bit
  rgb = decode_image(encode(deep, ".png"), cfg);
  CHECK(px(rgb, 1, 1) == cv::Vec3b(255, 100, 0));

  // BGRA: column 0 opaque green, column 1 transparent green, column 2 half-transparent black.
  cv::Mat rgba(2, 3, CV_8UC4);
  rgba.col(0).setTo(cv::Scalar(0, 200, 0, 255));
  rgba.col(1).setTo(cv::Scalar(0, 200, 0, 0));
  rgba.col(2).setTo(cv::Scalar(0, 0, 0, 128));
  const std::string png = encode(rgba, ".png");
  rgb = decode_image(png, cfg);  // alpha: white (default)
  CHECK(px(rgb, 0, 0) == cv::Vec3b(0, 200, 0));
  CHECK(px(rgb, 0, 1) == cv::Vec3b(255, 255, 255));
  // 255 * (255 - 128) / 255 = 127
  CHECK(px(rgb, 0, 2) == cv::Vec3b(127, 127, 127));
  cfg.alpha = "drop";
  rgb = decode_image(png, cfg);
  CHECK(px(rgb, 0, 1) == cv::Vec3b(0, 200, 0));
  CHECK(px(rgb, 0, 2) == cv::Vec3b(0, 0, 0));
}

TEST_CASE("JPEG EXIF orientation turns the image and the probed size", "[image][decode]") {
  const std::string jpg = encode(cv::Mat(20, 40, CV_8UC3, cv::Scalar(10, 20, 30)), ".jpg");
  // APP1 "Exif\0\0" + little-endian TIFF with one IFD0 entry: 0x0112 SHORT 1 = 6 (rotate 90 CW).
  std::string tiff = std::string("II*\0", 4) + std::string("\x08\x00\x00\x00", 4) + std::string("\x01\x00", 2) +
                     std::string("\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00", 12) + std::string(4, '\0');
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t len = payload.size() + 2;
  const std::string app1 = std::string("\xFF\xE1", 2) + char(len >> 8) + char(len & 0xff) + payload;
  const std::string rotated = jpg.substr(0, 2) + app1 + jpg.substr(2);
  ImageSize size = probe_image_size(rotated);
  CHECK(size.exif_orientation == 6);
  CHECK(size.height == 40);
  CHECK(size.width == 20);
  const cv::Mat rgb = decode_image(rotated, mm::ImageConfig{});
  CHECK(rgb.rows == 40);
  CHECK(rgb.cols == 20);
}

TEST_CASE("decode rejects empty, truncated, garbage and over-limit images", "[image][decode]") {
  mm::ImageConfig cfg;
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  const std::string png = encode(noise, ".png");
  const std::string jpg = encode(noise, ".jpg");

  CHECK_THROWS_WITH(decode_image("", cfg), Catch::Contains("empty"));
  CHECK_THROWS_WITH(decode_image("GARBAGE bytes that are not an image at all", cfg), Catch::Contains("not an image"));
  CHECK_THROWS_WITH(decode_image(png.substr(0, png.size() / 2), cfg), Catch::Contains("truncated PNG"));
  CHECK_THROWS_WITH(decode_image(jpg.substr(0, jpg.size() / 2), cfg), Catch::Contains("truncated JPEG"));
  CHECK_THROWS_WITH(decode_image(jpg.substr(0, 100), cfg), Catch::Contains("JPEG"));
  // Header intact, pixel data replaced by garbage: the decoder itself fails.
  std::string bad = png;
  for (size_t i = 60; i + 20 < bad.size(); ++i) bad[i] = char(i * 7);
  CHECK_THROWS_AS(decode_image(bad, cfg), ImageError);

  cfg.max_pixels = 64 * 64 - 1;
  CHECK_THROWS_WITH(decode_image(png, cfg), Catch::Contains("too large") && Catch::Contains("64x64"));
  cfg.max_pixels = 64 * 64;
  CHECK(decode_image(png, cfg).rows == 64);

  // 33 bytes claiming 100000 x 100000 (1e10 pixels, 30 GB as RGB): refused by the header check
  // before the decoder could allocate anything.
  mm::ImageConfig def;
  std::string huge = png.substr(0, 33);
  for (int b = 0; b < 2; ++b) {
    const uint32_t v = 100000;
    const char be[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    huge.replace(16 + 4 * b, 4, be, 4);
  }
  CHECK_THROWS_WITH(decode_image(huge, def), Catch::Contains("too large") && Catch::Contains("max_pixels"));
}

namespace {}  // namespace

TEST_CASE("a damaged PNG is one line of ours: chunk CRCs are checked before libpng sees it", "[image][decode]") {
  mm::ImageConfig cfg;
  cv::Mat noise(32, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  const std::string png = encode(noise, ".png");
  REQUIRE_NOTHROW(decode_image(png, cfg));
  const size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  std::string flipped = png;
  flipped[idat + 20] = char(flipped[idat + 20] ^ 0x10);  // inside the compressed data
  auto [err, what] = stderr_and_error([&] { decode_image(flipped, cfg); });
  CHECK(what == "corrupt PNG: chunk IDAT at byte " + std::to_string(idat - 4) + " fails its CRC check");
  CHECK(err.empty());  // libpng printed nothing ("libpng error: IDAT: CRC error" before the fix)
  std::string cut = png.substr(0, idat + 30);
  std::tie(err, what) = stderr_and_error([&] { decode_image(cut, cfg); });
  CHECK(what.find("truncated PNG: chunk IDAT at byte " + std::to_string(idat - 4)) == 0);
  CHECK(err.empty());
  std::string bad_length = png;
  bad_length[idat - 4] = char(0xFF);  // a chunk length past the end of the file
  std::tie(err, what) = stderr_and_error([&] { decode_image(bad_length, cfg); });
  CHECK(what == "corrupt PNG: no valid chunk at byte " + std::to_string(idat - 4));
  CHECK(err.empty());
}
