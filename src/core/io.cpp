#include "core/io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "core/check.h"

namespace mm::io {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes a descriptor on scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

void fsync_dir(const std::string& dir, const std::string& path) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MM_CHECK(fd >= 0, "{}: cannot open folder '{}' to fsync it: {}", path, dir, errno_text(errno));
  FdGuard guard{fd};
  // Some filesystems do not support fsync on folders (EINVAL); the rename itself has happened.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    MM_FAIL("{}: fsync of folder '{}' failed: {}", path, dir, errno_text(errno));
  }
}

// Appends what `fd` holds up to its end, stopping once more than `max_bytes` are in `out`; false
// (errno set) on a read error.
bool read_to_end(int fd, std::size_t max_bytes, std::string& out) {
  char buf[1 << 16];
  while (out.size() <= max_bytes) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

// 512 bytes, 12.5 KiB, 64.0 MiB, 3.0 GiB.
std::string size_text(std::uint64_t bytes) {
  if (bytes < 10240) return fmt::format("{} bytes", bytes);
  if (bytes < (std::uint64_t{1} << 20)) return fmt::format("{:.1f} KiB", double(bytes) / 1024.0);
  if (bytes < (std::uint64_t{1} << 30)) return fmt::format("{:.1f} MiB", double(bytes) / double(1 << 20));
  return fmt::format("{:.1f} GiB", double(bytes) / double(1 << 30));
}

}  // namespace

// ---- AtomicWriter ----------------------------------------------------------------------------

AtomicWriter::AtomicWriter(std::string path) : path_(std::move(path)) {
  MM_CHECK(!path_.empty() && path_.back() != '/', "'{}': not a file path", path_);
  std::vector<char> tmpl(path_.begin(), path_.end());
  const std::string suffix = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix.begin(), suffix.end());
  tmpl.push_back('\0');
  fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
  MM_CHECK(fd_ >= 0, "{}: cannot create a temporary file in '{}': {}", path_, parent_dir(path_), errno_text(errno));
  tmp_path_ = tmpl.data();
  // mkstemp creates 0600; written files are ordinary, readable files.
  if (::fchmod(fd_, 0644) != 0) {
    const int err = errno;
    discard();
    MM_FAIL("{}: chmod of temporary file failed: {}", path_, errno_text(err));
  }
}

AtomicWriter::~AtomicWriter() { discard(); }

void AtomicWriter::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!tmp_path_.empty()) {
    ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
  }
}

void AtomicWriter::write(const void* data, std::size_t size) {
  MM_CHECK(fd_ >= 0, "{}: write after commit or failure", path_);
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const std::size_t chunk = size < (std::size_t{1} << 30) ? size : (std::size_t{1} << 30);
    const ssize_t n = ::write(fd_, p, chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      discard();
      MM_FAIL("{}: write failed after {} bytes: {}", path_, written_, errno_text(err));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
}

void AtomicWriter::commit() {
  MM_CHECK(fd_ >= 0, "{}: commit after commit or failure", path_);
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    MM_FAIL("{}: fsync failed: {}", path_, errno_text(err));
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    discard();
    MM_FAIL("{}: close failed: {}", path_, errno_text(err));
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    discard();
    MM_FAIL("{}: rename from '{}' failed: {}", path_, tmp_path_, errno_text(err));
  }
  tmp_path_.clear();  // it is the real file now: never unlink it
  fsync_dir(parent_dir(path_), path_);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicWriter writer(path);
  writer.write(bytes);
  writer.commit();
}

// ---- reading ---------------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  // O_NONBLOCK: a FIFO is refused below instead of waiting for a writer forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MM_CHECK(fd >= 0, "{}: cannot open: {}", path, errno_text(errno));
  FdGuard guard{fd};
  struct stat st {};
  MM_CHECK(::fstat(fd, &st) == 0, "{}: cannot stat: {}", path, errno_text(errno));
  MM_CHECK(!S_ISDIR(st.st_mode), "{}: is a folder, expected a file", path);
  MM_CHECK(S_ISREG(st.st_mode), "{}: is {}, expected a regular file", path, file_kind(st.st_mode));
  // Tokenizer models, eval sets, checkpoint metadata: the largest is megabytes. A bigger file
  // (a dataset named where a small file belongs) is one line, not the machine's memory.
  constexpr std::size_t kMaxWholeFileBytes = std::size_t{1} << 30;
  MM_CHECK(static_cast<std::uint64_t>(st.st_size) <= kMaxWholeFileBytes,
           "{}: is {}, larger than the {} limit for a file read whole", path,
           size_text(static_cast<std::uint64_t>(st.st_size)), size_text(kMaxWholeFileBytes));
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  MM_CHECK(read_to_end(fd, kMaxWholeFileBytes, out), "{}: read failed after {} bytes: {}", path, out.size(),
           errno_text(errno));
  MM_CHECK(out.size() <= kMaxWholeFileBytes, "{}: grew past the {} limit for a file read whole while being read", path,
           size_text(kMaxWholeFileBytes));
  return out;
}

std::string shell_quote(const std::string& s) {
  const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || (c != 0 && std::strchr("_-./=:,+@", c) != nullptr);
  });
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string printable(const std::string& s, std::size_t max_chars) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max_chars) return out + "...";
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += s[i];
  }
  return out;
}

std::string file_kind(unsigned mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

namespace {

std::string kind_problem(const struct stat& st, std::size_t max_bytes) {
  if (!S_ISREG(st.st_mode)) return fmt::format("is {}, not a regular file", file_kind(st.st_mode));
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fmt::format("is {}, larger than the {} limit for this kind of file",
                       size_text(static_cast<std::uint64_t>(st.st_size)), size_text(max_bytes));
  }
  return {};
}

std::string stat_problem(int err) {
  if (err == ENOENT) return "does not exist";
  if (err == ENOTDIR) return "does not exist (a folder on its path is a file)";
  return fmt::format("cannot be read: {}", errno_text(err));
}

}  // namespace

std::string regular_file_problem(const std::string& path, std::size_t max_bytes) {
  if (path.find('\0') != std::string::npos) return "contains a NUL character";
  if (path.empty()) return "is empty (no file named)";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return stat_problem(errno);
  return kind_problem(st, max_bytes);
}

void check_regular_file(const std::string& path, std::size_t max_bytes, std::string_view what) {
  if (std::string p = regular_file_problem(path, max_bytes); !p.empty()) {
    throw mm::Error(fmt::format("{} '{}' {}", what, path, p));
  }
}

std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string_view what) {
  auto fail = [&](const std::string& reason) { return mm::Error(fmt::format("{} '{}' {}", what, path, reason)); };
  check_regular_file(path, max_bytes, what);
  // O_NONBLOCK: should the file have been replaced by a FIFO since the stat, open does not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw fail(stat_problem(errno));
  FdGuard guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(stat_problem(errno));
  if (std::string p = kind_problem(st, max_bytes); !p.empty()) throw fail(p);
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  if (!read_to_end(fd, max_bytes, out)) {
    throw fail(fmt::format("could not be read after {} bytes: {}", out.size(), errno_text(errno)));
  }
  if (out.size() > max_bytes) {
    throw fail(fmt::format("grew past the {} limit for this kind of file while being read", size_text(max_bytes)));
  }
  return out;
}

// ---- MappedFile ------------------------------------------------------------------------------

MappedFile::MappedFile(const std::string& path, Access access) : path_(path), access_(access) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // never waits on a FIFO
  MM_CHECK(fd >= 0, "{}: cannot open: {}", path, errno_text(errno));
  FdGuard guard{fd};
  struct stat st {};
  MM_CHECK(::fstat(fd, &st) == 0, "{}: cannot stat: {}", path, errno_text(errno));
  MM_CHECK(S_ISREG(st.st_mode), "{}: not a regular file ({}), cannot map it", path, file_kind(st.st_mode));
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ == 0) return;  // mmap of length 0 is invalid; an empty file maps to nothing
  const int prot = access == Access::kReadOnly ? PROT_READ : (PROT_READ | PROT_WRITE);
  void* p = ::mmap(nullptr, size_, prot, MAP_PRIVATE, fd, 0);
  MM_CHECK(p != MAP_FAILED, "{}: mmap of {} bytes failed: {}", path, size_, errno_text(errno));
  data_ = static_cast<std::uint8_t*>(p);
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      access_(other.access_) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    access_ = other.access_;
  }
  return *this;
}

std::uint8_t* MappedFile::mutable_data() const {
  MM_CHECK(access_ == Access::kCopyOnWrite, "{}: mapped read-only, no mutable access", path_);
  return data_;
}

}  // namespace mm::io
