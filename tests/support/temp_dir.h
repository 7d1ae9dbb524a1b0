// TempDir: a fresh folder for one test, removed with everything in it when the test ends.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mm::test {

class TempDir {
 public:
  // Creates "<system temp dir>/<prefix>.XXXXXX" (mkdtemp: unique across ctest's parallel
  // processes and within one). Throws std::runtime_error when it cannot.
  explicit TempDir(const std::string& prefix = "mm_test");
  // Removes the folder and its contents, read-only subfolders included; never throws.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return file(name); }  // = file(name)
  // path() / name as a string (name may hold subfolders; nothing is created).
  std::string file(const std::string& name) const;
  // Writes `bytes` to file(name), creating its parent folders; returns file(name).
  std::string write(const std::string& name, const std::string& bytes) const;
  // Names of the entries directly inside the folder, sorted.
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

}  // namespace mm::test
