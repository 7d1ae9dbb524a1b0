#include "data_pipeline/synth/tar_writer.h"

#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace mm::data::synth {

TarWriter::TarWriter(const std::string& path) : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
  MM_CHECK(out_.good(), "synth: cannot write {}", path);
}

TarWriter::~TarWriter() {
  try {
    close();
  } catch (...) {
  }
}

void TarWriter::add(const std::string& name, const std::string& data) {
  MM_CHECK(!closed_ && name.size() < 100, "synth: tar member name '{}' too long for ustar", name);
  char h[512];
  std::memset(h, 0, sizeof h);
  std::memcpy(h, name.data(), name.size());
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(data.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  out_.write(h, 512);
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  static const char zeros[512] = {};
  const size_t pad = (512 - data.size() % 512) % 512;
  out_.write(zeros, static_cast<std::streamsize>(pad));
  MM_CHECK(out_.good(), "synth: write failed on {}", path_);
}

void TarWriter::close() {
  if (closed_) return;
  static const char zeros[1024] = {};
  out_.write(zeros, 1024);
  out_.close();
  closed_ = true;
  MM_CHECK(!out_.fail(), "synth: could not finish {}", path_);
}

}  // namespace mm::data::synth
