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

// The whole file as bytes; throws mm::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

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
