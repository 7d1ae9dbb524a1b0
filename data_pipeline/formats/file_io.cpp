#include "data_pipeline/formats/file_io.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <string_view>

#include "core/check.h"
#include "core/io.h"

namespace fs = std::filesystem;

namespace mm::data {

namespace {

// Alternatives of one brace group's body: "a,b" -> {a, b}; "3..5" / "003..005" -> numbers;
// returns false when the body is neither (the braces are then literal).
bool brace_alternatives(const std::string& body, std::vector<std::string>& out) {
  static const std::regex range(R"((-?\d+)\.\.(-?\d+))");
  std::smatch m;
  if (std::regex_match(body, m, range)) {
    const std::string a = m[1], b = m[2];
    const long long lo = std::stoll(a), hi = std::stoll(b);
    const bool padded = (a.size() > 1 && a[0] == '0') || (b.size() > 1 && b[0] == '0');
    const size_t width = padded ? std::max(a.size(), b.size()) : 0;
    const long long step = lo <= hi ? 1 : -1;
    MM_CHECK((hi - lo) * step < 10000000, "brace range {{{}}} is too large", body);
    for (long long v = lo;; v += step) {
      std::string s = std::to_string(v < 0 ? -v : v);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      if (v < 0) s.insert(0, "-");
      out.push_back(s);
      if (v == hi) break;
    }
    return true;
  }
  int depth = 0;
  size_t start = 0;
  bool has_comma = false;
  std::vector<std::string> parts;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '{') ++depth;
    if (body[i] == '}') --depth;
    if (body[i] == ',' && depth == 0) {
      parts.push_back(body.substr(start, i - start));
      start = i + 1;
      has_comma = true;
    }
  }
  if (!has_comma) return false;
  parts.push_back(body.substr(start));
  for (const auto& p : parts)
    for (auto& e : expand_braces(p)) out.push_back(std::move(e));
  return true;
}

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> expand_braces(const std::string& spec) {
  for (size_t open = spec.find('{'); open != std::string::npos; open = spec.find('{', open + 1)) {
    int depth = 0;
    size_t close = std::string::npos;
    for (size_t i = open; i < spec.size(); ++i) {
      if (spec[i] == '{') ++depth;
      if (spec[i] == '}' && --depth == 0) {
        close = i;
        break;
      }
    }
    if (close == std::string::npos) break;
    std::vector<std::string> alts;
    if (!brace_alternatives(spec.substr(open + 1, close - open - 1), alts)) continue;
    const std::string prefix = spec.substr(0, open);
    // Leftmost group varies slowest: "{a,b}{1,2}" -> a1 a2 b1 b2 (bash's order).
    std::vector<std::string> ordered;
    const auto rests = expand_braces(spec.substr(close + 1));
    for (const auto& a : alts)
      for (const auto& rest : rests) ordered.push_back(prefix + a + rest);
    return ordered;
  }
  return {spec};
}

std::vector<std::string> expand_source_paths(const std::string& source, const std::string& spec,
                                             const std::vector<std::string>& folder_exts) {
  MM_CHECK(!spec.empty(), "source '{}': `path` is empty (expected a file, a glob or a folder)", source);
  std::vector<std::string> files;
  for (const auto& p : expand_braces(spec)) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(p)) {
        if (!e.is_regular_file()) continue;
        const std::string f = e.path().string();
        for (const auto& ext : folder_exts)
          if (ends_with(f, ext)) {
            in_dir.push_back(f);
            break;
          }
      }
      std::sort(in_dir.begin(), in_dir.end());
      std::string exts;
      for (const auto& e : folder_exts) exts += (exts.empty() ? "" : " ") + e;
      MM_CHECK(!in_dir.empty(), "source '{}': folder {} holds no files ending in {}", source, p, exts);
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (has_glob_chars(p)) {
      glob_t g;
      const int rc = ::glob(p.c_str(), 0, nullptr, &g);
      std::vector<std::string> matches;
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      globfree(&g);
      MM_CHECK(!matches.empty(), "source '{}': no file matches {}", source, p);
      std::sort(matches.begin(), matches.end());
      files.insert(files.end(), matches.begin(), matches.end());
    } else {
      files.push_back(p);
    }
  }
  // Regular files only: a FIFO would block the reader, a device would never end.
  for (const auto& f : files) {
    if (std::string why = io::regular_file_problem(f, UINT64_MAX); !why.empty()) {
      throw mm::Error(fmt::format("source '{}': file {} {}", source, f, why));
    }
  }
  return files;
}

std::string join_root(const std::string& root, const std::string& rel) {
  if (rel.empty() || rel[0] == '/' || root.empty() || root == ".") return rel;
  return root.back() == '/' ? root + rel : root + "/" + rel;
}

std::string image_path_problem(const std::string& rel, bool allow_outside_root) {
  if (rel.find('\0') != std::string::npos) {
    return fmt::format("image path \"{}\" contains a NUL character", io::printable(rel));
  }
  if (allow_outside_root) return {};
  const std::string hint = " (allowed only with allow_outside_root: true on the source)";
  if (!rel.empty() && rel[0] == '/') return fmt::format("image path {} is absolute{}", io::printable(rel), hint);
  int depth = 0;  // folders below the root, walking the path's components lexically
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    const std::string_view part(rel.data() + start, end - start);
    if (part == "..") {
      if (--depth < 0) return fmt::format("image path {} leaves the dataset root{}", io::printable(rel), hint);
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
  return {};
}

std::string real_path(const std::string& path) {
  char* r = ::realpath(path.c_str(), nullptr);
  if (r == nullptr) return {};
  std::string out(r);
  std::free(r);
  return out;
}

std::string symlink_escape_problem(const std::string& path, const std::string& root_real) {
  const std::string target = real_path(path);
  if (target.empty() || root_real.empty()) return {};  // nothing to compare: the open reports it
  const bool inside =
      root_real == "/" || (target.size() > root_real.size() && target.compare(0, root_real.size(), root_real) == 0 &&
                           target[root_real.size()] == '/');
  if (inside) return {};
  return fmt::format(
      "image {} resolves to {}, outside the dataset root {} (a symlink; allowed only with "
      "allow_outside_root: true on the source)",
      io::printable(path), io::printable(target), io::printable(root_real));
}

std::string parent_folder(const std::string& file) {
  const auto p = fs::path(file).parent_path().string();
  return p.empty() ? "." : p;
}

ReadOnlyFile::ReadOnlyFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MM_CHECK(fd_ >= 0, "cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  MM_CHECK(::fstat(fd_, &st) == 0, "cannot stat {}: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw mm::Error(fmt::format("{} is {}, not a regular file", path, io::file_kind(st.st_mode)));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

ReadOnlyFile::ReadOnlyFile(ReadOnlyFile&& o) noexcept : fd_(o.fd_), size_(o.size_), path_(std::move(o.path_)) {
  o.fd_ = -1;
}

ReadOnlyFile& ReadOnlyFile::operator=(ReadOnlyFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    size_ = o.size_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

std::string ReadOnlyFile::pread(uint64_t offset, size_t n) const {
  MM_CHECK(fd_ >= 0, "read from a closed file");
  std::string buf(n, '\0');
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd_, buf.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    MM_CHECK(r > 0, "{}: short read of {} bytes at offset {} (file changed since it was indexed?)", path_, n, offset);
    done += static_cast<size_t>(r);
  }
  return buf;
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  MM_CHECK(fd >= 0, "cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    MM_FAIL("cannot stat {}: {}", path, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw mm::Error(fmt::format("{} is {}, not a regular file", path, io::file_kind(st.st_mode)));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      MM_FAIL("cannot map {}: {}", path, std::strerror(errno));
    }
    ::madvise(p, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace mm::data
