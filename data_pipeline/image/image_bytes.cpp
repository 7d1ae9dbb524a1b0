#include "data_pipeline/image/image_bytes.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/io.h"
#include "data_pipeline/image/image_error.h"

namespace mm::data {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_image_bytes(const ImageRef& ref) {
  if (!ref.inline_bytes.empty()) return ref.inline_bytes;
  if (ref.path.empty()) throw ImageError("image reference has neither a path nor inline bytes");
  const std::string name = ref.display_name();
  if (ref.path.find('\0') != std::string::npos) throw ImageError(fmt::format("image path {} contains a NUL", name));
  // O_NONBLOCK: a FIFO is never waited on (it is refused below as not a regular file).
  Fd f{::open(ref.path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw ImageError(fmt::format("cannot open image {}: does not exist", name));
    throw ImageError(fmt::format("cannot open image {}: {}", name, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw ImageError(fmt::format("cannot open image {}: {}", name, std::strerror(errno)));
  // A folder, a FIFO or a device is named for what it is (not "empty", not "does not exist").
  if (!S_ISREG(st.st_mode)) {
    throw ImageError(fmt::format("image {} is {}, not a regular file", name, io::file_kind(st.st_mode)));
  }
  int64_t size = ref.size;
  int64_t offset = ref.offset;
  if (offset >= 0) {
    if (size < 0) throw ImageError(fmt::format("image {}: tar member without a size", name));
  } else {
    offset = 0;
    size = static_cast<int64_t>(st.st_size);
  }
  if (static_cast<uint64_t>(size) > io::kMaxImageBytes) {
    throw ImageError(fmt::format("image {} is {} bytes, more than the {} MiB an image file may have", name, size,
                                 io::kMaxImageBytes >> 20));
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(f.fd, bytes.data() + got, bytes.size() - got, offset + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ImageError(fmt::format("image {}: read failed: {}", name, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != bytes.size()) {
    throw ImageError(
        fmt::format("image {}: read {} of {} bytes (file shorter than expected)", name, got, bytes.size()));
  }
  return bytes;
}

}  // namespace mm::data
