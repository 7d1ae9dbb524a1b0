#include "data_pipeline/image/image_probe.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <string>

#include "data_pipeline/image/exif_orientation.h"
#include "data_pipeline/image/image_error.h"

namespace mm::data {
namespace {

using u8 = unsigned char;

uint32_t be16(const u8* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const u8* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
uint32_t le16(const u8* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8); }
uint32_t le24(const u8* p) { return le16(p) | (uint32_t(p[2]) << 16); }
uint32_t le32(const u8* p) { return le16(p) | (le16(p + 2) << 16); }

bool starts_with(std::string_view b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// CRC-32 (ISO-HDLC, the PNG chunk checksum) of `n` bytes.
uint32_t crc32(const u8* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// IHDR fields libpng would reject with its own stderr line ("Invalid IHDR data").
void check_png_header(const u8* d, size_t len) {
  if (len != 13) throw ImageError(fmt::format("corrupt PNG: IHDR holds {} bytes, not 13", len));
  const unsigned depth = d[8], colour = d[9];
  const bool ok_depth = colour == 0   ? (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)
                        : colour == 3 ? (depth == 1 || depth == 2 || depth == 4 || depth == 8)
                                      : (colour == 2 || colour == 4 || colour == 6) && (depth == 8 || depth == 16);
  if (!ok_depth) throw ImageError(fmt::format("corrupt PNG: colour type {} with bit depth {}", colour, depth));
  if (d[10] != 0 || d[11] != 0 || d[12] > 1) {
    throw ImageError(fmt::format("corrupt PNG: compression {}, filter {}, interlace {} (expected 0, 0, 0 or 1)", d[10],
                                 d[11], d[12]));
  }
}

// Walks a PNG's chunks (length, type, CRC) up to IEND, so that a damaged file is one line of ours
// rather than libpng's own stderr lines ("libpng error: IDAT: CRC error") followed by ours.
void check_png_chunks(const u8* p, size_t n) {
  size_t pos = 8;
  bool idat = false;
  while (pos + 12 <= n) {
    const size_t len = be32(p + pos);
    const std::string type(reinterpret_cast<const char*>(p + pos + 4), 4);
    bool letters = true;
    for (char c : type) letters &= (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!letters || len > 0x7FFFFFFFu) throw ImageError(fmt::format("corrupt PNG: no valid chunk at byte {}", pos));
    if (len > n - pos - 12) {
      throw ImageError(fmt::format("truncated PNG: chunk {} at byte {} needs {} bytes, the file ends after {}", type,
                                   pos, len + 12, n - pos));
    }
    if (crc32(p + pos + 4, len + 4) != be32(p + pos + 8 + len)) {
      throw ImageError(fmt::format("corrupt PNG: chunk {} at byte {} fails its CRC check", type, pos));
    }
    if (type == "IHDR") check_png_header(p + pos + 8, len);
    if (type == "IEND") {
      if (!idat) throw ImageError("corrupt PNG: no IDAT (image data) chunk");
      return;
    }
    idat |= type == "IDAT";
    pos += len + 12;
  }
  throw ImageError(fmt::format("truncated PNG: no IEND chunk ({} bytes)", n));
}

[[noreturn]] void truncated(const char* what) { throw ImageError(fmt::format("truncated {} header", what)); }

ImageSize probe_png(std::string_view b) {
  // signature(8) | IHDR length(4) "IHDR" width(4) height(4) depth(1) colour type(1) ...
  if (b.size() < 26) truncated("PNG");
  const u8* p = reinterpret_cast<const u8*>(b.data());
  if (std::memcmp(p + 12, "IHDR", 4) != 0) throw ImageError("corrupt PNG: first chunk is not IHDR");
  ImageSize s;
  s.format = ImageFormat::Png;
  s.width = be32(p + 16);
  s.height = be32(p + 20);
  const u8 colour = p[25];
  s.has_alpha = colour == 4 || colour == 6;
  return s;
}

// JPEG: the size from the frame header (SOF). The EXIF orientation is read as OpenCV 4.6 reads it
// (exif_orientation.h): from the first APP1 segment before the first scan, which may follow the
// SOF, so the walk goes on after the SOF until an APP1 or the scan; damage found there is left to
// check_image_complete and the decoder.
ImageSize probe_jpeg(std::string_view b) {
  const u8* p = reinterpret_cast<const u8*>(b.data());
  const size_t n = b.size();
  ImageSize s;
  s.format = ImageFormat::Jpeg;
  bool sof_seen = false, app1_seen = false;
  int orientation = 0;
  size_t i = 2;
  while (true) {
    // Markers: one or more 0xFF fill bytes then the marker code.
    if (i >= n || p[i] != 0xFF) {
      if (sof_seen) break;
      if (i >= n) truncated("JPEG");
      throw ImageError(fmt::format("corrupt JPEG: expected a marker at byte {}", i));
    }
    while (i < n && p[i] == 0xFF) ++i;
    if (i >= n) {
      if (sof_seen) break;
      truncated("JPEG");
    }
    const u8 m = p[i++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
    if (m == 0xD9 || m == 0xDA) {
      if (sof_seen) break;
      throw ImageError("corrupt JPEG: no frame header (SOF) before the scan");
    }
    const size_t len = i + 2 <= n ? be16(p + i) : 0;
    if (len < 2 || i + len > n) {
      if (sof_seen) break;
      if (i + 2 <= n && len < 2) throw ImageError("corrupt JPEG: bad segment length");
      truncated("JPEG");
    }
    if (m == 0xE1 && !app1_seen) {  // the first APP1 decides, whatever it holds
      orientation = opencv_exif_orientation(p + i + 2, len - 2);
      app1_seen = true;
      if (sof_seen) break;
    }
    const bool sof = (m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && !sof_seen) {
      if (len < 8) truncated("JPEG");
      s.height = be16(p + i + 3);
      s.width = be16(p + i + 5);
      sof_seen = true;
      if (app1_seen) break;  // it came before the SOF
    }
    i += len;
  }
  s.exif_orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
  if (s.exif_orientation >= 5) std::swap(s.height, s.width);  // 90/270 degree turns (transposed)
  return s;
}

ImageSize probe_bmp(std::string_view b) {
  if (b.size() < 26) truncated("BMP");
  const u8* p = reinterpret_cast<const u8*>(b.data());
  ImageSize s;
  s.format = ImageFormat::Bmp;
  const uint32_t dib = le32(p + 14);
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    s.width = le16(p + 18);
    s.height = le16(p + 20);
  } else {
    const int32_t w = int32_t(le32(p + 18));
    const int32_t h = int32_t(le32(p + 22));
    s.width = w;
    s.height = h < 0 ? -int64_t(h) : h;  // negative height = top-down rows
    if (w < 0) throw ImageError("corrupt BMP: negative width");
    if (dib >= 40 && b.size() >= 30) s.has_alpha = le16(p + 28) == 32;
  }
  return s;
}

ImageSize probe_gif(std::string_view b) {
  if (b.size() < 10) truncated("GIF");
  const u8* p = reinterpret_cast<const u8*>(b.data());
  ImageSize s;
  s.format = ImageFormat::Gif;
  s.width = le16(p + 6);
  s.height = le16(p + 8);
  return s;
}

ImageSize probe_webp(std::string_view b) {
  if (b.size() < 30) truncated("WebP");
  const u8* p = reinterpret_cast<const u8*>(b.data());
  ImageSize s;
  s.format = ImageFormat::Webp;
  if (std::memcmp(p + 12, "VP8 ", 4) == 0) {  // lossy: frame tag(3) start code 9d 01 2a, 14-bit sizes
    if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a) throw ImageError("corrupt WebP: bad VP8 start code");
    s.width = le16(p + 26) & 0x3fff;
    s.height = le16(p + 28) & 0x3fff;
  } else if (std::memcmp(p + 12, "VP8L", 4) == 0) {  // lossless: 0x2f, then 14+14 bits (size - 1), alpha bit
    if (p[20] != 0x2f) throw ImageError("corrupt WebP: bad VP8L signature");
    const uint32_t bits = le32(p + 21);
    s.width = int64_t(bits & 0x3fff) + 1;
    s.height = int64_t((bits >> 14) & 0x3fff) + 1;
    s.has_alpha = (bits >> 28) & 1;
  } else if (std::memcmp(p + 12, "VP8X", 4) == 0) {  // extended: flags(4), canvas (size - 1) 24-bit each
    s.has_alpha = p[20] & 0x10;
    s.width = int64_t(le24(p + 24)) + 1;
    s.height = int64_t(le24(p + 27)) + 1;
  } else {
    throw ImageError("corrupt WebP: unknown first chunk");
  }
  return s;
}

}  // namespace

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png:
      return "PNG";
    case ImageFormat::Jpeg:
      return "JPEG";
    case ImageFormat::Bmp:
      return "BMP";
    case ImageFormat::Gif:
      return "GIF";
    case ImageFormat::Webp:
      return "WebP";
  }
  return "?";
}

ImageSize probe_image_size(std::string_view b) {
  if (b.empty()) throw ImageError("empty image data (0 bytes)");
  ImageSize s;
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) {
    s = probe_png(b);
  } else if (starts_with(b, "\xFF\xD8\xFF", 3)) {
    s = probe_jpeg(b);
  } else if (starts_with(b, "BM", 2)) {
    s = probe_bmp(b);
  } else if (starts_with(b, "GIF87a", 6) || starts_with(b, "GIF89a", 6)) {
    s = probe_gif(b);
  } else if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8)) {
    s = probe_webp(b);
  } else {
    throw ImageError(
        fmt::format("not an image: unrecognised format ({} bytes; expected PNG, JPEG, BMP, GIF or WebP)", b.size()));
  }
  if (s.height <= 0 || s.width <= 0) {
    throw ImageError(fmt::format("zero-sized {} image ({}x{})", image_format_name(s.format), s.width, s.height));
  }
  return s;
}

void check_image_complete(std::string_view b, const ImageSize& s) {
  const u8* p = reinterpret_cast<const u8*>(b.data());
  const size_t n = b.size();
  switch (s.format) {
    case ImageFormat::Jpeg: {
      // The entropy-coded scan never contains FF D9 (0xFF is stuffed as FF 00), so an EOI marker
      // after the first SOS marks a complete stream. Trailing bytes after EOI are tolerated.
      const size_t sos = b.find("\xFF\xDA");
      const size_t eoi = b.rfind("\xFF\xD9");
      if (sos == std::string_view::npos || eoi == std::string_view::npos || eoi < sos) {
        throw ImageError(fmt::format("truncated JPEG: no end-of-image marker ({} bytes)", n));
      }
      return;
    }
    case ImageFormat::Png:
      check_png_chunks(p, n);
      return;
    case ImageFormat::Webp: {
      const size_t riff = size_t(le32(p + 4)) + 8;
      if (riff > n) throw ImageError(fmt::format("truncated WebP: {} of {} bytes", n, riff));
      return;
    }
    case ImageFormat::Bmp: {
      const size_t data = le32(p + 10);
      const uint32_t dib = le32(p + 14);
      const size_t bpp = dib == 12 ? (n >= 26 ? le16(p + 24) : 0) : (n >= 30 ? le16(p + 28) : 0);
      const uint32_t compression = dib >= 40 && n >= 34 ? le32(p + 30) : 0;
      // Beyond BI_BITFIELDS (3) OpenCV's reader fails an assertion and prints it to stderr.
      if (compression > 3) throw ImageError(fmt::format("unsupported BMP compression {}", compression));
      if (compression == 0 && bpp > 0) {  // uncompressed: rows padded to 4 bytes
        const size_t need = data + ((size_t(s.width) * bpp + 31) / 32) * 4 * size_t(s.height);
        if (need > n) throw ImageError(fmt::format("truncated BMP: {} of {} bytes", n, need));
      }
      return;
    }
    case ImageFormat::Gif:
      if (b.back() != 0x3B) throw ImageError(fmt::format("truncated GIF: no trailer ({} bytes)", n));
      return;
  }
}

}  // namespace mm::data
