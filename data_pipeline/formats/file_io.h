// File helpers for the format readers: expanding a source's path (brace ranges, globs, folders),
// positioned reads (pread) and read-only memory maps for indexing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mm::data {

// Expands a source path into a sorted list of existing files:
//   brace lists and ranges first ("shard-{000..009}.tar", "{a,b}.jsonl"), then per result:
//   a folder -> its files whose name ends with one of `folder_exts` (sorted);
//   a glob ("data/shard-*.tar") -> its matches (sorted); a plain path -> itself.
// Fails (mm::Error naming the source and path) when nothing matches or a path does not exist.
std::vector<std::string> expand_source_paths(const std::string& source, const std::string& spec,
                                             const std::vector<std::string>& folder_exts);

// Brace expansion alone (exposed for tests): "a{1..3}" -> a1 a2 a3; zero-padded ranges keep
// their width ("{008..010}" -> 008 009 010); lists "{x,y}"; nested braces.
std::vector<std::string> expand_braces(const std::string& spec);

// Image path of a record: absolute paths stay, others are joined to `root`.
std::string join_root(const std::string& root, const std::string& rel);

// The image path policy (docs/data_formats.md, "Where image paths may point"): why `rel`, an
// image path as a record wrote it, breaks it, or "" when it is fine. A NUL is always refused (it
// would cut the path short); unless `allow_outside_root` (data.sources[].allow_outside_root), an
// absolute path and a relative one that climbs above the root with "../" are refused too.
std::string image_path_problem(const std::string& rel, bool allow_outside_root);

// For an existing image file `path`: why it resolves (symlinks followed) outside the folder whose
// real path is `root_real`, or "" when it stays inside.
std::string symlink_escape_problem(const std::string& path, const std::string& root_real);

// realpath(3) of `path`, or "" when it cannot be resolved.
std::string real_path(const std::string& path);
// The folder a dataset file lives in ("." for a bare file name).
std::string parent_folder(const std::string& file);

// A file opened read-only for positioned reads from many threads (pread is thread-safe).
class ReadOnlyFile {
 public:
  ReadOnlyFile() = default;
  explicit ReadOnlyFile(const std::string& path);  // throws mm::Error when it cannot be opened
  ~ReadOnlyFile();
  ReadOnlyFile(ReadOnlyFile&& o) noexcept;
  ReadOnlyFile& operator=(ReadOnlyFile&& o) noexcept;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Exactly `n` bytes at `offset`; throws mm::Error on a short read (file shrank).
  std::string pread(uint64_t offset, size_t n) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

// A read-only memory map of a whole file (for the one sequential scan that builds an index).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mm::data
