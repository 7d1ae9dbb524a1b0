#include "data_pipeline/image/codec_png.h"

#include <fmt/format.h>
#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <vector>

#include "data_pipeline/image/image_error.h"

// The transforms below are those of OpenCV 4.6's PngDecoder (modules/imgcodecs/src/grfmt_png.cpp:
// readHeader, then readData with the Mat that cv::imdecode allocates for IMREAD_UNCHANGED), on the
// same libpng (Debian's libpng16): so the bytes are the same. What differs is only where libpng's
// messages go: OpenCV passes no handlers, so libpng prints "libpng warning: ..." and
// "libpng error: ..." to stderr; ours keep them.

namespace mm::data {
namespace {

// What libpng's callbacks touch: plain data (they run inside libpng's C frames, which no C++
// exception may cross, and leave them with longjmp).
struct PngJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end = nullptr;
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char error[256] = {};
  char damage[256] = {};  // the first warning that says the image data is damaged
  ~PngJob() {
    if (png != nullptr) png_destroy_read_struct(&png, &info, &end);
  }
};

struct PngHeader {
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int depth = 0;
  int colour = 0;
  int num_trans = 0;
};

// Copies a libpng message, control characters turned into spaces: our message stays one line.
void copy_line(char (&dst)[256], const char* msg) {
  size_t i = 0;
  for (; msg != nullptr && msg[i] != '\0' && i + 1 < sizeof dst; ++i) {
    dst[i] = static_cast<unsigned char>(msg[i]) < 0x20 ? ' ' : msg[i];
  }
  dst[i] = '\0';
}

PngJob& job_of(png_structp png) { return *static_cast<PngJob*>(png_get_error_ptr(png)); }

// Errors: the message is kept and decoding ends (libpng requires the handler not to return).
void on_error(png_structp png, png_const_charp msg) {
  copy_line(job_of(png).error, msg);
  png_longjmp(png, 1);
}

// Warnings: libpng goes on and OpenCV returns the image. Almost all concern ancillary chunks (an
// incorrect sRGB profile, a bad tEXt or iCCP) or data after the last row ("Extra compressed data",
// "Too much image data"): those are ignored, the pixels are whole. A zlib error in the image data
// that libpng reports as a warning once the rows are read ("IDAT: incorrect data check": the
// inflated rows fail their Adler-32 checksum) means the pixels are not what was encoded: refused.
void on_warning(png_structp png, png_const_charp msg) {
  PngJob& job = job_of(png);
  if (job.damage[0] != '\0' || msg == nullptr || std::strncmp(msg, "IDAT: ", 6) != 0) return;
  for (const char* surplus : {"Extra compressed data", "Too much image data", "Too many IDATs found"}) {
    if (std::strcmp(msg + 6, surplus) == 0) return;
  }
  copy_line(job.damage, msg);
}

// OpenCV's PngDecoder::readDataFromBuf, message included.
void read_bytes(png_structp png, png_bytep dst, size_t n) {
  PngJob& job = *static_cast<PngJob*>(png_get_io_ptr(png));
  if (n > job.size - job.pos) png_error(png, "PNG input buffer is incomplete");
  std::memcpy(dst, job.data + job.pos, n);
  job.pos += n;
}

// PngDecoder::readHeader. False when libpng failed (job.error says why).
bool read_header(PngJob& job, PngHeader& h) {
  if (setjmp(png_jmpbuf(job.png))) return false;
  png_set_read_fn(job.png, &job, read_bytes);
  png_read_info(job.png, job.info);
  png_get_IHDR(job.png, job.info, &h.width, &h.height, &h.depth, &h.colour, nullptr, nullptr, nullptr);
  if (h.colour == PNG_COLOR_TYPE_RGB || h.colour == PNG_COLOR_TYPE_PALETTE) {
    png_bytep trans = nullptr;
    png_color_16p trans_values = nullptr;
    png_get_tRNS(job.png, job.info, &trans, &h.num_trans, &trans_values);
  }
  return true;
}

// PngDecoder::readData for a Mat of `channels` channels and the file's depth (IMREAD_UNCHANGED).
bool read_rows(PngJob& job, const PngHeader& h, int channels, size_t row_bytes, png_bytepp rows) {
  if (setjmp(png_jmpbuf(job.png))) return false;
  png_structp png = job.png;
  const uint16_t one = 1;
  const bool little_endian = *reinterpret_cast<const unsigned char*>(&one) == 1;
  if (little_endian) png_set_swap(png);  // 16-bit samples in host order (a no-op on 8-bit files)
  if (channels < 4) {
    png_set_strip_alpha(png);
  } else {
    png_set_tRNS_to_alpha(png);
  }
  if (h.colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((h.colour & PNG_COLOR_MASK_COLOR) == 0 && h.depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  const bool color = channels > 1;
  if ((h.colour & PNG_COLOR_MASK_COLOR) != 0 && color) {
    png_set_bgr(png);
  } else if (color) {
    png_set_gray_to_rgb(png);
  } else {
    png_set_rgb_to_gray(png, 1, 0.299, 0.587);  // as OpenCV; a gray file has nothing to convert
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, job.info);
  // Ours: the rows libpng will write must be those of the Mat (always so; never write past it).
  if (png_get_rowbytes(png, job.info) != row_bytes) png_error(png, "unexpected row size after the transforms");
  png_read_image(png, rows);
  png_read_end(png, job.end);
  return true;
}

[[noreturn]] void fail(const char* why) { throw ImageError(fmt::format("corrupt PNG: libpng: {}", why)); }

}  // namespace

cv::Mat decode_png_like_opencv(std::string_view bytes) {
  PngJob job;
  job.data = reinterpret_cast<const unsigned char*>(bytes.data());
  job.size = bytes.size();
  job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
  if (job.png == nullptr) fail("cannot create a decoder");
  job.info = png_create_info_struct(job.png);
  job.end = png_create_info_struct(job.png);
  if (job.info == nullptr || job.end == nullptr) fail("cannot create a decoder");
  PngHeader h;
  if (!read_header(job, h)) fail(job.error);
  // The Mat type of PngDecoder::readHeader: tRNS makes RGB and palette images 4-channel; a gray
  // image stays 1-channel with or without tRNS.
  int channels = 1;
  if (h.colour == PNG_COLOR_TYPE_RGB || h.colour == PNG_COLOR_TYPE_PALETTE) {
    channels = h.num_trans > 0 ? 4 : 3;
  } else if (h.colour == PNG_COLOR_TYPE_GRAY_ALPHA || h.colour == PNG_COLOR_TYPE_RGB_ALPHA) {
    channels = 4;
  }
  cv::Mat img(int(h.height), int(h.width), CV_MAKETYPE(h.depth == 16 ? CV_16U : CV_8U, channels));
  std::vector<png_bytep> rows(h.height);
  for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = img.ptr<png_byte>(int(y));
  if (!read_rows(job, h, channels, img.cols * img.elemSize(), rows.data())) fail(job.error);
  if (job.damage[0] != '\0') fail(job.damage);
  return img;
}

}  // namespace mm::data
