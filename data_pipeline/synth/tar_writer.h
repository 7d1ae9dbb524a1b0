// A minimal, deterministic ustar writer for WebDataset shards: regular files only, mode 0644,
// uid/gid 0, mtime 0, so the same members give the same bytes.
#pragma once
#include <fstream>
#include <string>

namespace mm::data::synth {

class TarWriter {
 public:
  explicit TarWriter(const std::string& path);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Appends one member (name up to 100 bytes).
  void add(const std::string& name, const std::string& data);
  // Writes the two zero end blocks and closes; called by the destructor if not done.
  void close();

 private:
  std::string path_;
  std::ofstream out_;
  bool closed_ = false;
};

}  // namespace mm::data::synth
