// File io that never leaves a torn file behind: atomic writes (temporary file in the same folder,
// fsync, rename, fsync of the folder), whole-file reads, and an RAII memory mapping of a file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mm::io {

// Streams bytes into "<path>.tmp.XXXXXX" next to `path`; commit() makes them visible under `path`
// in one step. Destroying an uncommitted writer (an exception, an early return) removes the
// temporary file, so readers see either the old file or the complete new one, never a part.
// Every failure throws mm::Error naming the path and the system error.
class AtomicWriter {
 public:
  explicit AtomicWriter(std::string path);
  ~AtomicWriter();
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsync the file, close it, rename it over `path`, fsync the folder. Call once.
  void commit();

  const std::string& path() const { return path_; }
  std::uint64_t bytes_written() const { return written_; }

 private:
  void discard() noexcept;

  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
};

// Writes `bytes` to `path` atomically (see AtomicWriter).
void write_file_atomic(const std::string& path, std::string_view bytes);

// The whole file as bytes; throws mm::Error naming the path when it cannot be read, is not a
// regular file (a FIFO is never waited on), or is larger than 1 GiB (kMaxWholeFileBytes: no file
// read whole is unbounded; datasets and weights are streamed or memory-mapped instead).
std::string read_file(const std::string& path);

// Caps on files read whole, by kind: a config or small metadata file is kilobytes, an image file
// tens of megabytes. Datasets and weights are streamed or memory-mapped and keep their own checks.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{4} << 20;  // YAML configs, JSON state
inline constexpr std::size_t kMaxImageBytes = std::size_t{64} << 20;  // one encoded image file

// `s` made safe for a one-line message (a path or a parser's quote of the input): control
// characters (NUL, newline, ...) as \xNN, cut after `max_chars` characters with "...".
std::string printable(const std::string& s, std::size_t max_chars = 200);

// `s` as one POSIX shell word: unchanged when it holds only letters, digits and _ - . / = : , + @,
// else in single quotes (a ' inside as '\''). For commands printed for the user to paste, and run.
std::string shell_quote(const std::string& s);

// What a file of this st_mode is, for errors: "a folder", "a FIFO (named pipe)", "a character
// device", "a block device", "a socket", "a regular file", "a special file".
std::string file_kind(unsigned mode);

// Why `path` cannot be read whole, or "" when it is a regular file of at most `max_bytes`. Never
// blocks (a FIFO is not opened) and reads nothing; symlinks are followed. The reason is one line
// without the path: "is a FIFO (named pipe), not a regular file", "does not exist", "is 70.0 MiB,
// larger than the 64.0 MiB limit for this kind of file".
std::string regular_file_problem(const std::string& path, std::size_t max_bytes);

// Throws mm::Error "<what> '<path>' <reason>" (one line, the reason of regular_file_problem) unless
// `path` is a regular file of at most `max_bytes`: for paths handed to readers that open them
// themselves (--image of preprocess and generate).
void check_regular_file(const std::string& path, std::size_t max_bytes, std::string_view what);

// The whole of a regular file of at most `max_bytes`, read without ever blocking on a FIFO or
// reading a device forever; throws mm::Error "<what> '<path>' <reason>" (one line) otherwise,
// `what` naming the kind ("config file", "image", "--image").
// A file that grows past the cap while being read is refused too.
std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string_view what);

// A file mapped into memory, unmapped (and its descriptor closed) on destruction. Movable, not
// copyable. kReadOnly pages fault on a write; kCopyOnWrite pages are private: writes go to the
// process's own copy and never reach the file. An empty file maps to data() == nullptr.
// The file must not be truncated while mapped (SIGBUS); atomic replacement by rename is safe.
class MappedFile {
 public:
  enum class Access { kReadOnly, kCopyOnWrite };

  explicit MappedFile(const std::string& path, Access access = Access::kReadOnly);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::uint8_t* mutable_data() const;  // only for kCopyOnWrite mappings
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release() noexcept;

  std::string path_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  Access access_ = Access::kReadOnly;
};

}  // namespace mm::io
