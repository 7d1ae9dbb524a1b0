// decode_image on JPEG (libjpeg called directly, data_pipeline/image/codec_jpeg.cpp) gives the same
// bytes as the decoding before issue 28 (cv::imdecode(IMREAD_COLOR) + BGR->RGB, kept as
// decode_image_opencv_reference), EXIF orientation included, for a corpus generated here with
// cv::imencode and, for what OpenCV cannot write (4:4:4, 4:2:2, 4:4:0, 4:1:1, arithmetic coding,
// RGB without YCbCr, CMYK, YCCK), with libjpeg itself; EXIF segments are inserted by hand.
#include <catch2/catch.hpp>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "data_pipeline/image/image_decode.h"
#include "tests/data_pipeline/image_test_support.h"

using namespace mm::data;

namespace {

// Ramps on the left, noise on the right: smooth and busy blocks, every chroma position different.
cv::Mat content(int rows, int cols, int type, uint64_t seed) {
  cv::Mat m(rows, cols, type);
  cv::RNG(seed).fill(m, cv::RNG::UNIFORM, 0, 256);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols / 2; ++x) {
      uint8_t* p = m.ptr<uint8_t>(y) + x * m.channels();
      for (int c = 0; c < m.channels(); ++c) p[c] = uint8_t((x * 9 + y * 5 + c * 70) % 256);
    }
  }
  return m;
}

std::string imencode(const cv::Mat& m, std::vector<int> params = {}) {
  std::vector<uint8_t> buf;
  REQUIRE(cv::imencode(".jpg", m, buf, params));
  return std::string(buf.begin(), buf.end());
}

struct JpegSpec {
  J_COLOR_SPACE in = JCS_RGB;      // what the pixels are: JCS_GRAYSCALE, JCS_RGB or JCS_CMYK
  J_COLOR_SPACE file = JCS_YCbCr;  // what the file stores
  int quality = 90;
  int h = 2, v = 2;  // luma sampling factors (chroma 1x1): 2x2 = 4:2:0, 1x1 = 4:4:4, ...
  bool progressive = false, arith = false, optimize = false;
  int restart_rows = 0;
};

struct WriteError {
  jpeg_error_mgr pub;
  jmp_buf jump;
};
void write_failed(j_common_ptr c) { std::longjmp(reinterpret_cast<WriteError*>(c->err)->jump, 1); }

std::string write_jpeg(const cv::Mat& px, const JpegSpec& s) {
  jpeg_compress_struct c{};
  WriteError err{};
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = write_failed;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  volatile bool ok = false;  // set after setjmp, read after a longjmp
  if (setjmp(err.jump) == 0) {
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = JDIMENSION(px.cols);
    c.image_height = JDIMENSION(px.rows);
    c.input_components = px.channels();
    c.in_color_space = s.in;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, s.file);
    jpeg_set_quality(&c, s.quality, TRUE);
    c.comp_info[0].h_samp_factor = s.h;
    c.comp_info[0].v_samp_factor = s.v;
    c.arith_code = s.arith ? TRUE : FALSE;
    c.optimize_coding = s.optimize ? TRUE : FALSE;
    c.restart_in_rows = s.restart_rows;
    if (s.progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < px.rows; ++y) {
      JSAMPROW row = const_cast<JSAMPROW>(px.ptr<JSAMPLE>(y));
      jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    ok = true;
  }
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), ok ? size : 0);
  std::free(buf);
  REQUIRE(ok);
  return out;
}

// EXIF by hand: a TIFF header + IFD0 whose entries are (tag, type, count, 4-byte value field).
struct Tiff {
  bool le = true;
  std::string u16(uint32_t v) const {
    return le ? std::string{char(v), char(v >> 8)} : std::string{char(v >> 8), char(v)};
  }
  std::string u32(uint32_t v) const { return le ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF); }
  std::string entry(uint32_t tag, uint32_t type, uint32_t count, const std::string& value) const {
    return u16(tag) + u16(type) + u32(count) + value;
  }
  std::string orientation(uint32_t v) const { return entry(0x0112, 3, 1, u16(v) + std::string(2, '\0')); }
  // Header, IFD0 with `count` entries (which may claim more than `entries` holds), next-IFD 0, tail.
  std::string ifd(const std::string& entries, uint32_t count, const std::string& tail = "") const {
    return std::string(le ? "II" : "MM") + u16(42) + u32(8) + u16(count) + entries + u32(0) + tail;
  }
};

std::string segment(unsigned marker, const std::string& payload) {
  const size_t len = payload.size() + 2;
  return std::string{char(0xFF), char(marker), char(len >> 8), char(len & 0xFF)} + payload;
}
std::string exif(const std::string& tiff) { return segment(0xE1, std::string("Exif\0\0", 6) + tiff); }
std::string after_soi(const std::string& jpg, const std::string& seg) { return jpg.substr(0, 2) + seg + jpg.substr(2); }

}  // namespace

TEST_CASE("JPEG written by OpenCV: our libjpeg decode equals cv::imdecode byte for byte", "[image][decode][equal]") {
  const std::vector<std::vector<int>> params = {
      {},
      {cv::IMWRITE_JPEG_QUALITY, 5},
      {cv::IMWRITE_JPEG_QUALITY, 50},
      {cv::IMWRITE_JPEG_QUALITY, 100},
      {cv::IMWRITE_JPEG_PROGRESSIVE, 1},
      {cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_QUALITY, 30},
      {cv::IMWRITE_JPEG_OPTIMIZE, 1},
      {cv::IMWRITE_JPEG_RST_INTERVAL, 2},
      {cv::IMWRITE_JPEG_LUMA_QUALITY, 80, cv::IMWRITE_JPEG_CHROMA_QUALITY, 20}};
  int seed = 0;
  for (int type : {CV_8UC1, CV_8UC3}) {
    for (auto [rows, cols] : std::vector<std::pair<int, int>>{{23, 37}, {48, 64}, {1, 1}, {17, 9}}) {
      const cv::Mat m = content(rows, cols, type, 50 + seed++);
      for (size_t p = 0; p < params.size(); ++p) {
        require_same_as_opencv("imencode channels " + std::to_string(CV_MAT_CN(type)) + " " + std::to_string(rows) +
                                   "x" + std::to_string(cols) + " params #" + std::to_string(p),
                               imencode(m, params[p]));
      }
    }
  }
}

TEST_CASE("JPEG written by libjpeg: sampling, progressive, arithmetic, RGB, CMYK, YCCK", "[image][decode][equal]") {
  std::vector<std::pair<std::string, JpegSpec>> specs;
  for (auto [h, v] : std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {2, 2}, {1, 2}, {4, 1}}) {
    const std::string f = std::to_string(h) + "x" + std::to_string(v);
    JpegSpec s;
    s.h = h;
    s.v = v;
    specs.push_back({"YCbCr " + f, s});
    s.progressive = true;
    specs.push_back({"YCbCr progressive " + f, s});
    s.progressive = false;
    s.arith = true;
    specs.push_back({"YCbCr arithmetic " + f, s});
    s.arith = false;
    s.restart_rows = 1;
    s.quality = 40;
    specs.push_back({"YCbCr restarts q40 " + f, s});
  }
  JpegSpec rgb;
  rgb.file = JCS_RGB;
  rgb.h = rgb.v = 1;
  specs.push_back({"RGB without YCbCr", rgb});
  JpegSpec gray;
  gray.in = gray.file = JCS_GRAYSCALE;
  gray.h = gray.v = 1;
  specs.push_back({"gray", gray});
  gray.progressive = gray.optimize = true;
  specs.push_back({"gray progressive", gray});
  JpegSpec cmyk;
  cmyk.in = cmyk.file = JCS_CMYK;
  cmyk.h = cmyk.v = 1;
  specs.push_back({"CMYK", cmyk});
  cmyk.progressive = true;
  specs.push_back({"CMYK progressive", cmyk});
  cmyk.progressive = false;
  cmyk.file = JCS_YCCK;
  cmyk.h = cmyk.v = 2;
  specs.push_back({"YCCK 4:2:0", cmyk});
  int seed = 0;
  for (const auto& [name, s] : specs) {
    const int type = s.in == JCS_GRAYSCALE ? CV_8UC1 : s.in == JCS_CMYK ? CV_8UC4 : CV_8UC3;
    for (auto [rows, cols] : std::vector<std::pair<int, int>>{{23, 37}, {40, 64}, {1, 1}}) {
      require_same_as_opencv(name + " " + std::to_string(rows) + "x" + std::to_string(cols),
                             write_jpeg(content(rows, cols, type, 200 + seed++), s));
    }
  }
}

TEST_CASE("JPEG EXIF orientation: applied as cv::imdecode applies it, edge cases included", "[image][decode][equal]") {
  const std::string jpg = imencode(content(24, 40, CV_8UC3, 77));
  std::vector<std::pair<std::string, std::string>> cases;
  for (bool le : {true, false}) {
    const Tiff t{le};
    for (uint32_t o = 0; o <= 9; ++o) {
      cases.push_back({(le ? "II" : "MM") + std::string(" orientation ") + std::to_string(o),
                       after_soi(jpg, exif(t.ifd(t.orientation(o), 1)))});
    }
    // As a LONG: OpenCV reads the first 16 bits of the value field (6 in II order, 0 in MM order).
    cases.push_back({"LONG orientation", after_soi(jpg, exif(t.ifd(t.entry(0x0112, 4, 1, t.u32(6)), 1)))});
    // A make string stored at an offset, then the orientation; two orientations (the first wins).
    // A make string stored at an offset, then the orientation: read when the string ends at the
    // last byte, the parse ends when it would run one byte past it.
    for (uint32_t length : {10, 11}) {
      const std::string make = t.entry(0x010F, 2, length, t.u32(8 + 2 + 24 + 4));
      cases.push_back({"make of " + std::to_string(length) + " then orientation",
                       after_soi(jpg, exif(t.ifd(make + t.orientation(6), 2, std::string("Canon\0\0\0\0\0", 10))))});
    }
    cases.push_back({"two orientations", after_soi(jpg, exif(t.ifd(t.orientation(3) + t.orientation(6), 2)))});
    // An unreadable entry (a resolution whose rational lies past the end) ends the parse.
    const std::string bad_resolution = t.entry(0x011A, 5, 1, t.u32(5000));
    cases.push_back({"bad resolution first", after_soi(jpg, exif(t.ifd(bad_resolution + t.orientation(6), 2)))});
    cases.push_back({"bad resolution after", after_soi(jpg, exif(t.ifd(t.orientation(6) + bad_resolution, 2)))});
    // An IFD claiming more entries than it holds: the ones read before the end count.
    cases.push_back({"short IFD", after_soi(jpg, exif(t.ifd(t.orientation(8), 40)))});
    cases.push_back({"truncated TIFF", after_soi(jpg, exif(t.ifd(t.orientation(8), 1).substr(0, 12)))});
  }
  const Tiff t;
  const std::string six = t.ifd(t.orientation(6), 1);
  // Only the first APP1 counts, whatever its identifier (XMP first: no turn; any 6 bytes: read).
  const std::string xmp = segment(0xE1, "http://ns.adobe.com/xap/1.0/" + std::string(1, '\0') + "<x:xmpmeta/>");
  cases.push_back({"XMP then Exif", after_soi(jpg, xmp + exif(six))});
  cases.push_back({"Exif then XMP", after_soi(jpg, exif(six) + xmp)});
  cases.push_back({"other identifier", after_soi(jpg, segment(0xE1, "ABCDEF" + six))});
  cases.push_back({"short APP1 then Exif", after_soi(jpg, segment(0xE1, "Exif") + exif(six))});
  // After the JFIF APP0, and after the frame header (just before the scan).
  const size_t app0_end = 4 + ((uint8_t(jpg[4]) << 8) | uint8_t(jpg[5]));
  cases.push_back({"after APP0", jpg.substr(0, app0_end) + exif(six) + jpg.substr(app0_end)});
  const size_t sos = jpg.find("\xFF\xDA");
  REQUIRE(sos != std::string::npos);
  cases.push_back({"before the scan", jpg.substr(0, sos) + exif(t.ifd(t.orientation(5), 1)) + jpg.substr(sos)});
  // An APP1 between the scans of a progressive file is not read (OpenCV reads the markers before
  // the first scan).
  const std::string prog = imencode(content(24, 40, CV_8UC3, 78), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  const size_t second_scan = prog.find("\xFF\xDA", prog.find("\xFF\xDA") + 2);
  cases.push_back({"between scans", prog.substr(0, second_scan) + exif(six) + prog.substr(second_scan)});
  // Gray and progressive images turn too.
  const std::string gray = imencode(content(10, 30, CV_8UC1, 5), {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
  for (uint32_t o = 1; o <= 8; ++o) {
    cases.push_back({"gray progressive " + std::to_string(o), after_soi(gray, exif(t.ifd(t.orientation(o), 1)))});
  }
  for (const auto& [name, bytes] : cases) require_same_as_opencv(name, bytes);
}
