// decode_image on PNG (libpng called directly, data_pipeline/image/codec_png.cpp) gives the same
// bytes as the decoding before issue 28 (cv::imdecode + the conversion to RGB, kept as
// decode_image_opencv_reference) for every kind of valid PNG: a corpus generated here with
// cv::imencode and, for what OpenCV cannot write (1/2/4-bit gray, gray + alpha, palettes, tRNS,
// Adam7 interlacing, eXIf), with libpng itself.
#include <png.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "data_pipeline/image/image_decode.h"
#include "tests/data_pipeline/image_test_support.h"

using namespace mm::data;

namespace {

// Smooth ramps, a few hard edges and noise: every filter type and sample value gets used.
cv::Mat content(int rows, int cols, int type, uint64_t seed) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
  cv::Mat ramp(rows, cols, type);
  const double top = CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255;
  for (int y = 0; y < rows; ++y) ramp.row(y).setTo(cv::Scalar::all(top * y / std::max(1, rows - 1)));
  if (cols > 1) ramp(cv::Rect(0, 0, cols / 2, rows)).copyTo(m(cv::Rect(0, 0, cols / 2, rows)));
  return m;
}

std::string imencode(const cv::Mat& m, std::vector<int> params = {}) {
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(".png", m, buf, params));
  return std::string(buf.begin(), buf.end());
}

struct PngSpec {
  int width, height, depth, colour;
  bool interlace = false;
  int palette = 0;  // PLTE entries (colour type 3)
  int trns = 0;     // tRNS: alpha entries for palettes, else 1 = a transparent colour key
  bool exif = false;
};

void append(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void no_flush(png_structp) {}

// A PNG written by libpng with the samples of a seeded generator (indices below the palette size).
std::string write_png(const PngSpec& s, uint32_t seed) {
  const int channels = s.colour == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                       : s.colour == PNG_COLOR_TYPE_RGB      ? 3
                       : s.colour == PNG_COLOR_TYPE_RGBA     ? 4
                                                             : 1;
  const uint32_t top = s.colour == PNG_COLOR_TYPE_PALETTE ? uint32_t(s.palette) : 1u << s.depth;
  cv::RNG rng(seed);
  std::vector<std::vector<png_byte>> rows(s.height, std::vector<png_byte>((s.width * channels * s.depth + 7) / 8 + 1));
  for (int y = 0; y < s.height; ++y) {
    for (int i = 0; i < s.width * channels; ++i) {
      const uint32_t v = (i < s.width * channels / 3) ? uint32_t(i * 5 + y * 3) % top : rng.uniform(0, int(top));
      if (s.depth == 16) {
        rows[y][2 * i] = png_byte(v >> 8);
        rows[y][2 * i + 1] = png_byte(v);
      } else {
        const int bit = i * s.depth;  // packed, most significant bits first
        rows[y][bit / 8] |= png_byte(v << (8 - s.depth - bit % 8));
      }
    }
  }
  std::vector<png_bytep> pointers;
  for (auto& r : rows) pointers.push_back(r.data());
  std::vector<png_color> palette(std::max(1, s.palette));
  std::vector<png_byte> alphas(std::max(1, s.trns));
  for (auto& c : palette)
    c = {png_byte(rng.uniform(0, 256)), png_byte(rng.uniform(0, 256)), png_byte(rng.uniform(0, 256))};
  for (size_t i = 0; i < alphas.size(); ++i) alphas[i] = png_byte(i * 97 % 256);
  png_color_16 key{};
  key.gray = key.red = png_uint_16(3 % top);  // present in the ramp
  key.green = key.blue = png_uint_16(8 % top);
  const png_byte exif[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 1, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  volatile bool ok = false;  // set after setjmp, read after a longjmp
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_set_write_fn(png, &out, append, no_flush);
    png_set_IHDR(png, info, s.width, s.height, s.depth, s.colour,
                 s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s.palette > 0) png_set_PLTE(png, info, palette.data(), s.palette);
    if (s.trns > 0) png_set_tRNS(png, info, alphas.data(), s.palette > 0 ? s.trns : 0, &key);
    if (s.exif) png_set_eXIf_1(png, info, sizeof exif, const_cast<png_bytep>(exif));
    png_write_info(png, info);
    png_write_image(png, pointers.data());
    png_write_end(png, info);
    ok = true;
  }
  png_destroy_write_struct(&png, &info);
  REQUIRE(ok);
  return out;
}

}  // namespace

TEST_CASE("PNG written by OpenCV: our libpng decode equals cv::imdecode byte for byte", "[image][decode][equal]") {
  int n = 0;
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    const cv::Mat m = content(23, 37, type, 100 + n);
    for (int level : {-1, 0, 1, 6, 9}) {
      std::vector<int> params;
      if (level >= 0) params = {cv::IMWRITE_PNG_COMPRESSION, level};
      require_same_as_opencv("imencode type " + std::to_string(type) + " level " + std::to_string(level),
                             imencode(m, params));
    }
    for (int strategy :
         {cv::IMWRITE_PNG_STRATEGY_FILTERED, cv::IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY, cv::IMWRITE_PNG_STRATEGY_FIXED}) {
      require_same_as_opencv("imencode strategy " + std::to_string(strategy),
                             imencode(m, {cv::IMWRITE_PNG_STRATEGY, strategy}));
    }
    ++n;
  }
  // 1-bit (IMWRITE_PNG_BILEVEL), a 1x1 image and a wide one.
  require_same_as_opencv("bilevel", imencode(content(9, 30, CV_8UC1, 7) > 128, {cv::IMWRITE_PNG_BILEVEL, 1}));
  require_same_as_opencv("1x1 BGRA", imencode(content(1, 1, CV_8UC4, 8)));
  require_same_as_opencv("1x700 BGR", imencode(content(1, 700, CV_8UC3, 9)));
}

TEST_CASE("PNG written by libpng: every colour type, depth, palette, tRNS, Adam7", "[image][decode][equal]") {
  std::vector<PngSpec> specs;
  for (int d : {1, 2, 4, 8, 16}) specs.push_back({29, 17, d, PNG_COLOR_TYPE_GRAY});
  for (int d : {2, 8, 16}) specs.push_back({29, 17, d, PNG_COLOR_TYPE_GRAY, false, 0, 1});  // gray + tRNS
  for (int d : {8, 16}) {
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_GRAY_ALPHA});
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_RGB});
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_RGB, false, 0, 1});  // RGB + tRNS: 4 channels
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_RGBA});
  }
  for (int d : {1, 2, 4, 8}) {
    const int entries = d == 8 ? 200 : 1 << d;
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_PALETTE, false, entries});
    specs.push_back({29, 17, d, PNG_COLOR_TYPE_PALETTE, false, entries, std::max(1, entries / 2)});  // partial
  }
  // Adam7: every colour type, and sizes smaller than the 8x8 pattern.
  const std::vector<std::pair<int, int>> sizes = {{29, 17}, {1, 1}, {3, 2}, {5, 9}};
  for (auto [w, h] : sizes) {
    specs.push_back({w, h, 1, PNG_COLOR_TYPE_GRAY, true});
    specs.push_back({w, h, 16, PNG_COLOR_TYPE_GRAY, true});
    specs.push_back({w, h, 8, PNG_COLOR_TYPE_GRAY_ALPHA, true});
    specs.push_back({w, h, 8, PNG_COLOR_TYPE_RGB, true});
    specs.push_back({w, h, 16, PNG_COLOR_TYPE_RGBA, true});
    specs.push_back({w, h, 4, PNG_COLOR_TYPE_PALETTE, true, 16, 5});
  }
  // eXIf with orientation 6: cv::imdecode(IMREAD_UNCHANGED) ignores it, and so do we.
  specs.push_back({29, 17, 8, PNG_COLOR_TYPE_RGB, false, 0, 0, true});
  uint32_t seed = 1;
  for (const PngSpec& s : specs) {
    const std::string name = "libpng " + std::to_string(s.width) + "x" + std::to_string(s.height) + " depth " +
                             std::to_string(s.depth) + " colour " + std::to_string(s.colour) +
                             (s.interlace ? " Adam7" : "") + " palette " + std::to_string(s.palette) + " tRNS " +
                             std::to_string(s.trns) + (s.exif ? " eXIf" : "");
    require_same_as_opencv(name, write_png(s, seed++));
  }
}
