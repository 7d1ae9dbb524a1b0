// Header probing without decoding (hand-built headers, no OpenCV), and reading ImageRef bytes.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "data_pipeline/image/image_bytes.h"
#include "data_pipeline/image/image_error.h"
#include "data_pipeline/image/image_probe.h"
#include "support/temp_dir.h"

using namespace mm::data;

namespace {

std::string be32(uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string le16(uint32_t v) { return {char(v & 0xff), char(v >> 8)}; }
std::string le32(uint32_t v) { return le16(v & 0xffff) + le16(v >> 16); }

// PNG signature + IHDR (CRC not checked by the probe) and nothing else.
std::string png_header(uint32_t w, uint32_t h, char colour_type = 2) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(w) + be32(h) + std::string(1, 8) +
         std::string(1, colour_type) + std::string(3, '\0') + be32(0);
}

}  // namespace

TEST_CASE("probe reads PNG, GIF, BMP and WebP sizes from headers", "[image][probe]") {
  ImageSize s = probe_image_size(png_header(640, 480));
  CHECK(s.format == ImageFormat::Png);
  CHECK(s.width == 640);
  CHECK(s.height == 480);
  CHECK_FALSE(s.has_alpha);
  CHECK(probe_image_size(png_header(3, 2, 6)).has_alpha);

  s = probe_image_size(std::string("GIF89a") + le16(320) + le16(200) + std::string(8, '\0'));
  CHECK(s.format == ImageFormat::Gif);
  CHECK(s.width == 320);
  CHECK(s.height == 200);

  // BITMAPINFOHEADER with a negative (top-down) height.
  const std::string bmp = "BM" + le32(0) + le32(0) + le32(54) + le32(40) + le32(100) + le32(uint32_t(-50)) + le16(1) +
                          le16(24) + std::string(24, '\0');
  s = probe_image_size(bmp);
  CHECK(s.format == ImageFormat::Bmp);
  CHECK(s.width == 100);
  CHECK(s.height == 50);

  // VP8X: canvas (size - 1) as 24-bit little endian; alpha flag 0x10.
  const std::string vp8x = "RIFF" + le32(100) + "WEBPVP8X" + le32(10) + std::string(1, 0x10) + std::string(3, '\0') +
                           std::string("\x1f\x03\x00", 3) + std::string("\xff\x00\x00", 3) + std::string(4, '\0');
  s = probe_image_size(vp8x);
  CHECK(s.format == ImageFormat::Webp);
  CHECK(s.width == 800);
  CHECK(s.height == 256);
  CHECK(s.has_alpha);
}

TEST_CASE("probe rejects empty, garbage, truncated and zero-sized headers with a reason", "[image][probe]") {
  CHECK_THROWS_AS(probe_image_size(""), ImageError);
  CHECK_THROWS_WITH(probe_image_size(""), Catch::Contains("empty"));
  CHECK_THROWS_WITH(probe_image_size("hello, this is a caption, not an image"), Catch::Contains("not an image"));
  CHECK_THROWS_WITH(probe_image_size(png_header(10, 10).substr(0, 20)), Catch::Contains("truncated PNG"));
  CHECK_THROWS_WITH(probe_image_size(png_header(0, 10)), Catch::Contains("zero-sized"));
  CHECK_THROWS_WITH(probe_image_size(std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10)),
                    Catch::Contains("truncated JPEG"));
  // A PNG claiming 100000 x 100000 is probed from 33 bytes: nothing is allocated for its pixels.
  CHECK(probe_image_size(png_header(100000, 100000)).pixels() == 10000000000LL);
}

TEST_CASE("read_image_bytes: inline bytes, whole files, tar-member ranges", "[image][bytes]") {
  const mm::test::TempDir tmp("mm_test_image_bytes");
  const std::filesystem::path dir = tmp.path();
  const std::string path = (dir / "blob.bin").string();
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fputs("0123456789", f);
    std::fclose(f);
  }
  ImageRef ref;
  ref.inline_bytes = "abc";
  CHECK(read_image_bytes(ref) == "abc");

  ref = ImageRef{};
  ref.path = path;
  CHECK(read_image_bytes(ref) == "0123456789");

  ref.offset = 3;
  ref.size = 4;
  ref.member = "k.jpg";
  CHECK(read_image_bytes(ref) == "3456");

  ref.size = 20;  // member runs past the end of the file
  CHECK_THROWS_WITH(read_image_bytes(ref), Catch::Contains("shorter"));

  ref = ImageRef{};
  ref.path = (dir / "missing.png").string();
  CHECK_THROWS_AS(read_image_bytes(ref), ImageError);
  CHECK_THROWS_WITH(read_image_bytes(ref), Catch::Contains("missing.png"));
}
