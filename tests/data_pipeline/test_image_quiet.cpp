// Nothing reaches stderr from the image decoders, ever: for the crafted files of
// tests/data/hostile/image/ and for truncated, bit-flipped and otherwise damaged PNG and JPEG files
// (valid chunk CRCs and end markers, so that libpng and libjpeg themselves see the damage),
// decode_image writes nothing to fd 2 and either accepts the image or throws one ImageError of one
// line. Before issue 28 libpng printed "libpng error: Not enough image data" and libjpeg
// "Corrupt JPEG data: ..." there; the first test case checks that the capture sees those lines.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data_pipeline/image/image_decode.h"
#include "data_pipeline/image/image_error.h"
#include "tests/data_pipeline/image_test_support.h"

using namespace mm::data;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string encode(const cv::Mat& m, const std::string& ext, std::vector<int> params = {}) {
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(ext, m, buf, params));
  return std::string(buf.begin(), buf.end());
}

cv::Mat noise(int rows, int cols, uint64_t seed) {
  cv::Mat m(rows, cols, CV_8UC3);
  cv::RNG(seed).fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::rectangle(m, cv::Rect(2, 2, cols / 3, rows / 3), cv::Scalar(10, 200, 30), cv::FILLED);
  return m;
}

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

// `png` (one IDAT, as cv::imencode writes) with the IDAT payload replaced by `edit(payload)` and
// its CRC recomputed, so that only libpng can tell.
std::string edit_idat(const std::string& png, const std::function<std::string(std::string)>& edit) {
  const size_t at = png.find("IDAT") - 4;
  const uint32_t len = (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
                       (uint32_t(uint8_t(png[at + 2])) << 8) | uint8_t(png[at + 3]);
  return png.substr(0, at) + chunk("IDAT", edit(png.substr(at + 8, len))) + png.substr(at + 12 + len);
}

std::string flip(std::string d, const std::vector<size_t>& at) {
  for (size_t i : at) d[i] = char(d[i] ^ 0x5A);
  return d;
}

// A JPEG's entropy-coded data: from after the first SOS segment to the EOI marker.
std::pair<size_t, size_t> scan_of(const std::string& jpg) {
  const size_t sos = jpg.find("\xFF\xDA");
  const size_t start = sos + 2 + ((uint8_t(jpg[sos + 2]) << 8) | uint8_t(jpg[sos + 3]));
  return {start, jpg.rfind("\xFF\xD9")};
}

}  // namespace

TEST_CASE("the capture sees what libpng and libjpeg print through cv::imdecode", "[image][decode][quiet]") {
  const std::string short_idat = read_file(fs::path(MM_TEST_DATA_DIR) / "hostile/image/short_idat.png");
  auto [err, what] = stderr_and_error([&] { CHECK(decode_image_opencv_reference(short_idat).empty()); });
  CHECK(err.find("libpng error: Not enough image data") != std::string::npos);
  const std::string jpg = encode(noise(64, 64, 3), ".jpg");
  const auto [start, end] = scan_of(jpg);
  const std::string cut = jpg.substr(0, start + (end - start) / 2) + jpg.substr(end);  // half the scan gone
  std::tie(err, what) = stderr_and_error([&] { CHECK_FALSE(decode_image_opencv_reference(cut).empty()); });
  CHECK(err.find("Corrupt JPEG data") != std::string::npos);
}

TEST_CASE("hostile image files: nothing on stderr, accepted or one ImageError line", "[image][decode][quiet]") {
  const fs::path dir = fs::path(MM_TEST_DATA_DIR) / "hostile/image";
  const std::vector<std::string> good = {"good.png", "good.bmp", "bmp_negative_height.bmp"};
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    INFO(name);
    const std::string bytes = read_file(e.path());
    const auto [err, what] = stderr_and_error([&] { decode_image(bytes, mm::ImageConfig{}); });
    CHECK(err.empty());
    if (std::find(good.begin(), good.end(), name) != good.end()) {
      CHECK(what.empty());
    } else {
      CHECK_FALSE(what.empty());
      CHECK(what.find('\n') == std::string::npos);
    }
    if (name == "short_idat.png") CHECK(what == "corrupt PNG: libpng: Not enough image data");
    ++files;
  }
  CHECK(files >= 20);
}

TEST_CASE("damaged PNG and JPEG data: nothing on stderr, one ImageError line", "[image][decode][quiet]") {
  const std::string png = encode(noise(32, 48, 1), ".png", {cv::IMWRITE_PNG_COMPRESSION, 9});
  const std::string jpg = encode(noise(64, 80, 2), ".jpg");
  const std::string progressive = encode(noise(64, 80, 4), ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  const auto [start, end] = scan_of(jpg);
  const auto [pstart, pend] = scan_of(progressive);
  std::vector<std::pair<std::string, std::string>> cases = {
      {"PNG: deflate stream cut in half", edit_idat(png, [](std::string d) { return d.substr(0, d.size() / 2); })},
      {"PNG: deflate data bit-flipped", edit_idat(png,
                                                  [](std::string d) {
                                                    return flip(d, {3, 9});
                                                  })},
      {"PNG: Adler-32 damaged", edit_idat(png, [](std::string d) { return flip(d, {d.size() - 1}); })},
      {"PNG: IDAT empty", edit_idat(png, [](std::string) { return std::string(); })},
      {"PNG: cut inside IDAT", png.substr(0, png.find("IDAT") + 40)},
      {"JPEG: scan halved, EOI kept", jpg.substr(0, start + (end - start) / 2) + jpg.substr(end)},
      {"JPEG: scan bytes all ones", jpg.substr(0, start + 40) + std::string(24, '\xFF') + jpg.substr(start + 64)},
      {"JPEG: cut in the scan", jpg.substr(0, start + (end - start) / 3)},
      {"JPEG: progressive cut, EOI added", progressive.substr(0, pstart + (pend - pstart) / 2) + "\xFF\xD9"},
  };
  // A marker planted in the middle of the scan (two bytes overwritten): premature end of a segment.
  std::string planted = jpg;
  planted.replace(start + (end - start) / 2, 2, "\xFF\xD3");
  cases.push_back({"JPEG: marker planted in the scan", planted});
  for (const auto& [name, bytes] : cases) {
    INFO(name);
    const auto [err, what] = stderr_and_error([&] { decode_image(bytes, mm::ImageConfig{}); });
    CHECK(err.empty());
    CHECK_FALSE(what.empty());
    CHECK(what.find('\n') == std::string::npos);
  }
  // Bit flips that keep every marker: libjpeg may decode the garbage without a word, or with only
  // "N extraneous bytes before marker 0xd9" (accepted, see codec_jpeg.cpp). Either way: silence,
  // and at most one line.
  for (int f = 0; f < 8; ++f) {
    std::string b = f < 4 ? jpg : progressive;
    const auto [s0, s1] = f < 4 ? std::make_pair(start, end) : std::make_pair(pstart, pend);
    for (int k = 0; k < 6; ++k) {
      const size_t at = s0 + 20 + (f * 131 + k * 37) % (s1 - s0 - 40);
      if (uint8_t(b[at]) != 0xFF && uint8_t(b[at - 1]) != 0xFF) b[at] = char(b[at] ^ (1 << (k + f) % 7));
    }
    INFO("bit flips #" << f);
    const auto [err, what] = stderr_and_error([&] { decode_image(b, mm::ImageConfig{}); });
    CHECK(err.empty());
    CHECK(what.find('\n') == std::string::npos);
  }
}

TEST_CASE("libpng and libjpeg warnings on decodable files: not printed, same pixels", "[image][decode][quiet]") {
  const std::string png = encode(noise(16, 16, 5), ".png");
  const size_t idat = png.find("IDAT") - 4;
  const std::string jpg = encode(noise(24, 40, 6), ".jpg");
  const size_t sos = jpg.find("\xFF\xDA");
  const std::vector<std::pair<std::string, std::string>> cases = {
      // An sRGB chunk with rendering intent 9 (0..3 exist): libpng warns and goes on.
      {"PNG: bad sRGB intent", png.substr(0, idat) + chunk("sRGB", std::string(1, '\x09')) + png.substr(idat)},
      // Bytes between two markers: "Corrupt JPEG data: 4 extraneous bytes before marker 0xda".
      {"JPEG: junk before the scan", jpg.substr(0, sos) + "junk" + jpg.substr(sos)},
  };
  for (const auto& [name, bytes] : cases) {
    INFO(name);
    cv::Mat ref, ours;
    auto [err, what] = stderr_and_error([&] { ref = decode_image_opencv_reference(bytes); });
    CHECK_FALSE(err.empty());  // what the old path printed
    REQUIRE_FALSE(ref.empty());
    std::tie(err, what) = stderr_and_error([&] { ours = decode_image(bytes, mm::ImageConfig{}); });
    CHECK(err.empty());
    CHECK(what.empty());
    REQUIRE(ours.size() == ref.size());
    CHECK(cv::norm(ours, ref, cv::NORM_INF) == 0);
  }
}
