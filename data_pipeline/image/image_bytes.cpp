#include "data_pipeline/image/image_bytes.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "data_pipeline/image/image_error.h"

namespace mm::data {

std::string read_image_bytes(const ImageRef& ref) {
  if (!ref.inline_bytes.empty()) return ref.inline_bytes;
  if (ref.path.empty()) throw ImageError("image reference has neither a path nor inline bytes");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(ref.path.c_str(), "rb"), &std::fclose);
  if (!f) throw ImageError(fmt::format("cannot open image {}: {}", ref.display_name(), std::strerror(errno)));
  int64_t size = ref.size;
  if (ref.offset >= 0) {
    if (size < 0) throw ImageError(fmt::format("image {}: tar member without a size", ref.display_name()));
    if (std::fseek(f.get(), long(ref.offset), SEEK_SET) != 0) {
      throw ImageError(fmt::format("image {}: cannot seek to byte {}", ref.display_name(), ref.offset));
    }
  } else {
    if (std::fseek(f.get(), 0, SEEK_END) != 0 || (size = std::ftell(f.get())) < 0 || std::fseek(f.get(), 0, SEEK_SET) != 0) {
      throw ImageError(fmt::format("image {}: cannot determine the file size", ref.display_name()));
    }
  }
  std::string bytes(size_t(size), '\0');
  const size_t got = size > 0 ? std::fread(bytes.data(), 1, bytes.size(), f.get()) : 0;
  if (got != bytes.size()) {
    throw ImageError(fmt::format("image {}: read {} of {} bytes (file shorter than expected)", ref.display_name(), got,
                                 bytes.size()));
  }
  return bytes;
}

}  // namespace mm::data
