// read_image_bytes: the encoded bytes an ImageRef points at (inline bytes, a whole file, or a
// tar member's byte range), read without decoding.
#pragma once
#include <string>

#include "data_pipeline/sample.h"

namespace mm::data {

// Throws ImageError naming the image (ImageRef::display_name) when the file is missing, is not a
// regular file (a folder, a FIFO: never waited on, a device: never read), is larger than
// io::kMaxImageBytes, is unreadable or is shorter than the member's range.
std::string read_image_bytes(const ImageRef& ref);

}  // namespace mm::data
