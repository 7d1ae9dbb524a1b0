// The JPEG EXIF orientation exactly as OpenCV 4.6 reads it for cv::imdecode(IMREAD_COLOR), so the
// header probe, our libjpeg decoder and OpenCV agree on every file (docs/images.md, "Decoding").
#pragma once
#include <cstddef>

namespace mm::data {

// `app1` = the payload (after the 2-byte length) of the FIRST APP1 segment before the first scan,
// whatever its identifier ("Exif\0\0", XMP, anything): OpenCV's grfmt_jpeg.cpp takes the first
// APP1 that libjpeg saved and hands its bytes from offset 6 on to ExifReader::parseExif
// (exif.cpp). That parser reads IFD0's entries in order and stops at the first one it cannot
// read (keeping those before it); the first orientation entry wins. Returns the raw 16-bit
// orientation value, or 0 when there is none (payloads of 6 bytes or fewer are not parsed).
// cv::imdecode turns the image only for values 2..8.
int opencv_exif_orientation(const unsigned char* app1, size_t n);

}  // namespace mm::data
