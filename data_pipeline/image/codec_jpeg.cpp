#include "data_pipeline/image/codec_jpeg.h"

#include <fmt/format.h>

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first

#include <jpeglib.h>  // before jerror.h: its message list depends on jconfig.h's settings

#include <jerror.h>
#include <opencv2/core.hpp>

#include "data_pipeline/image/exif_orientation.h"
#include "data_pipeline/image/image_error.h"

// The settings below are those of OpenCV 4.6's JpegDecoder (modules/imgcodecs/src/grfmt_jpeg.cpp:
// readHeader, then readData with the 3-channel Mat of IMREAD_COLOR) and of cv::imdecode's
// ApplyExifOrientation (loadsave.cpp), on the same libjpeg-turbo (Debian's libjpeg62-turbo):
// libjpeg's defaults (islow IDCT, fancy upsampling, no scaling), output colour space RGB for 1- and
// 3-component files, CMYK for 4-component ones converted as OpenCV's icvCvt_CMYK2BGR_8u_C4C3R
// (utils.cpp) does. OpenCV 4.6 asks libjpeg for RGB and swaps every pixel to BGR
// (icvCvt_RGB2BGR_8u_C3R), which our old conversion swapped back: we keep libjpeg's RGB, the same
// samples (and a third of the time). Only the messages differ: OpenCV keeps libjpeg's
// output_message, which prints warnings ("Corrupt JPEG data: ...") to stderr.

namespace mm::data {
namespace {

// What libjpeg's callbacks touch: plain data (they run inside libjpeg's C frames, which no C++
// exception may cross, and leave them with longjmp).
struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jmp_buf jump;
  bool rows_done;
  int orientation;
  char message[JMSG_LENGTH_MAX];
};

// Warnings that say compressed data is missing or undecodable while rows are still to be decoded
// (a marker or the end of the data in the middle of a scan, a bad Huffman or arithmetic code, lost
// restart markers): libjpeg fills what it could not decode with grey or garbage, so the image is
// refused, like the truncated files check_image_complete refuses. Not refused: "N extraneous bytes
// before marker" (libjpeg decoded every block of the segment and skipped surplus bytes; some
// encoders pad the scan, and data damaged beyond detection often ends this way too, as it may
// without any warning), odd scan parameters or progression (decoded all the same), an unknown
// JFIF revision or Adobe transform code, and trace messages. Nothing is printed in any case.
bool damages_pixels(const jpeg_error_mgr& err) {
  switch (err.msg_code) {
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
#if defined(D_ARITH_CODING_SUPPORTED) || JPEG_LIB_VERSION >= 70
    case JWRN_ARITH_BAD_CODE:
#endif
      return true;
    default:
      return false;
  }
}

JpegJob& job_of(j_common_ptr c) { return *static_cast<JpegJob*>(c->client_data); }

// Errors: the message is kept and decoding ends (libjpeg requires error_exit not to return).
void on_error(j_common_ptr c) {
  (*c->err->format_message)(c, job_of(c).message);
  std::longjmp(job_of(c).jump, 1);
}

// Warnings (level -1) and trace messages (level >= 0): nothing is printed.
void on_message(j_common_ptr c, int level) {
  if (level >= 0) return;
  c->err->num_warnings++;
  JpegJob& job = job_of(c);
  if (job.rows_done || !damages_pixels(*c->err)) return;
  (*c->err->format_message)(c, job.message);
  std::longjmp(job.jump, 1);
}

void no_output(j_common_ptr) {}

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, writing R, G, B instead of B, G, R.
void cmyk_to_rgb(const JSAMPLE* cmyk, uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    rgb[0] = uint8_t(k - ((255 - c) * k >> 8));
    rgb[1] = uint8_t(k - ((255 - m) * k >> 8));
    rgb[2] = uint8_t(k - ((255 - y) * k >> 8));
  }
}

// readHeader + readData. True when every row was decoded (an error or damage warning after the
// last row, from jpeg_finish_decompress, is ignored as OpenCV ignores it); else job.message says
// why. `out` is allocated here; the caller destroys the decompressor in every case.
bool decode_rows(JpegJob& job, std::string_view bytes, cv::Mat& out) {
  j_decompress_ptr c = &job.cinfo;
  if (setjmp(job.jump)) return job.rows_done;
  jpeg_create_decompress(c);
  // libjpeg's memory source: at the end of the data it warns (Premature end of JPEG file, refused
  // above) and inserts an end-of-image marker. OpenCV's own source suspends instead; the two differ
  // only on files without all their data, which are refused here either way.
  jpeg_mem_src(c, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(c, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(c, TRUE);
  for (jpeg_saved_marker_ptr m = c->marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) {  // the first APP1, as OpenCV
      job.orientation = opencv_exif_orientation(m->data, m->data_length);
      break;
    }
  }
  const bool cmyk = c->num_components == 4;
  c->out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGB;
  c->out_color_components = cmyk ? 4 : 3;
  jpeg_start_decompress(c);
  const int width = int(c->output_width), height = int(c->output_height);
  out.create(height, width, CV_8UC3);
  JSAMPARRAY buffer =
      cmyk ? (*c->mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(c), JPOOL_IMAGE, width * 4, 1) : nullptr;
  for (int y = 0; y < height; ++y) {
    JSAMPROW row = cmyk ? buffer[0] : out.ptr<JSAMPLE>(y);
    if (jpeg_read_scanlines(c, &row, 1) != 1) {
      std::snprintf(job.message, sizeof job.message, "no data for row %d", y);
      return false;
    }
    if (cmyk) cmyk_to_rgb(buffer[0], out.ptr<uint8_t>(y), width);
  }
  job.rows_done = true;
  jpeg_finish_decompress(c);
  return true;
}

// loadsave.cpp's ApplyExifOrientation: the same flips and transposes (moves, no arithmetic).
void apply_orientation(cv::Mat& img, int orientation) {
  switch (orientation) {
    case 2:
      cv::flip(img, img, 1);
      break;
    case 3:
      cv::flip(img, img, -1);
      break;
    case 4:
      cv::flip(img, img, 0);
      break;
    case 5:
      cv::transpose(img, img);
      break;
    case 6:
      cv::transpose(img, img);
      cv::flip(img, img, 1);
      break;
    case 7:
      cv::transpose(img, img);
      cv::flip(img, img, -1);
      break;
    case 8:
      cv::transpose(img, img);
      cv::flip(img, img, 0);
      break;
    default:  // 1, absent, or a value outside 1..8
      break;
  }
}

struct DestroyDecompressor {
  JpegJob& job;
  ~DestroyDecompressor() { jpeg_destroy_decompress(&job.cinfo); }
};

}  // namespace

cv::Mat decode_jpeg_rgb(std::string_view bytes) {
  JpegJob job{};  // zeroed: jpeg_destroy_decompress is safe even before jpeg_create_decompress
  job.cinfo.err = jpeg_std_error(&job.err);
  job.err.error_exit = on_error;
  job.err.emit_message = on_message;
  job.err.output_message = no_output;
  job.cinfo.client_data = &job;
  cv::Mat rgb;
  bool ok = false;
  {
    DestroyDecompressor destroy{job};
    ok = decode_rows(job, bytes, rgb);
  }
  if (!ok) {
    for (char& ch : job.message) ch = static_cast<unsigned char>(ch) < 0x20 && ch != '\0' ? ' ' : ch;
    throw ImageError(fmt::format("corrupt JPEG: libjpeg: {}", job.message));
  }
  apply_orientation(rgb, job.orientation);
  return rgb;
}

}  // namespace mm::data
