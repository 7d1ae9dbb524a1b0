#include "data_pipeline/image/exif_orientation.h"

#include <cstdint>

namespace mm::data {
namespace {

// OpenCV's ExifReader (modules/imgcodecs/src/exif.cpp, 4.6): reads fail (ExifParsingError) when
// `off + 1` / `off + 3` is not below the size; "II" is little-endian, anything else big-endian.
class Reader {
 public:
  Reader(const unsigned char* d, size_t n) : d_(d), n_(n), intel_(n >= 1 && !(n > 1 && d[0] != d[1]) && d[0] == 'I') {}
  bool u16(size_t off, uint32_t& v) const {
    if (off + 1 >= n_) return false;
    v = intel_ ? d_[off] | (uint32_t(d_[off + 1]) << 8) : (uint32_t(d_[off]) << 8) | d_[off + 1];
    return true;
  }
  bool u32(size_t off, uint32_t& v) const {
    if (off + 3 >= n_) return false;
    const uint32_t b0 = d_[off], b1 = d_[off + 1], b2 = d_[off + 2], b3 = d_[off + 3];
    v = intel_ ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    return true;
  }
  // `count` unsigned rationals (two u32 each) at the offset stored in the entry's value field.
  bool rationals(size_t entry, size_t count) const {
    uint32_t at = 0, v = 0;
    if (!u32(entry + 8, at)) return false;
    for (size_t i = 0; i < count; ++i, at += 8) {
      if (!u32(at, v) || !u32(size_t(at) + 4, v)) return false;
    }
    return true;
  }
  // ExifReader::getString: the bytes sit at offset 8 of the WHOLE buffer when they fit in 4
  // bytes (sic), else at the offset in the value field; they must lie inside the buffer.
  bool string(size_t entry) const {
    uint32_t size = 0, at = 8;
    if (!u32(entry + 4, size)) return false;
    if (size > 4 && !u32(entry + 8, at)) return false;
    return at <= n_ && size_t(at) + size <= n_;
  }
  // One IFD0 entry as ExifReader::parseExifEntry reads it; false where it would throw.
  bool entry(size_t off, int& orientation) const {
    uint32_t tag = 0, v = 0;
    if (!u16(off, tag)) return false;
    switch (tag) {
      case 0x010E:  // image description, make, model, software, date/time, copyright: strings
      case 0x010F:
      case 0x0110:
      case 0x0131:
      case 0x0132:
      case 0x8298:
        return string(off);
      case 0x0112:  // orientation: the first one is kept (std::map::insert)
        if (!u16(off + 8, v)) return false;
        if (orientation < 0) orientation = int(v);
        return true;
      case 0x0128:  // resolution unit, YCbCr positioning: u16
      case 0x0213:
        return u16(off + 8, v);
      case 0x011A:  // x/y resolution: 1 rational; white point 2; YCbCr coefficients 3; primaries, black/white 6
      case 0x011B:
        return rationals(off, 1);
      case 0x013E:
        return rationals(off, 2);
      case 0x0211:
        return rationals(off, 3);
      case 0x013F:
      case 0x0214:
        return rationals(off, 6);
      default:  // the Exif sub-IFD offset and unknown tags are not read
        return true;
    }
  }

 private:
  const unsigned char* d_;
  size_t n_;
  bool intel_;
};

}  // namespace

int opencv_exif_orientation(const unsigned char* app1, size_t n) {
  if (app1 == nullptr || n <= 6) return 0;
  const Reader r(app1 + 6, n - 6);
  uint32_t mark = 0, ifd = 0, count = 0;
  if (!r.u16(2, mark) || mark != 0x2A || !r.u32(4, ifd) || !r.u16(ifd, count)) return 0;
  int orientation = -1;
  uint32_t off = ifd + 2;  // uint32_t as in ExifReader::parseExif
  for (uint32_t e = 0; e < count; ++e, off += 12) {
    if (!r.entry(off, orientation)) break;
  }
  return orientation < 0 ? 0 : orientation;
}

}  // namespace mm::data
