// Protobuf wire-format encoding (varints, length-delimited fields, fixed32/fixed64) of Events.
#include "trainers/metrics/tb_writer.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "core/host.h"
#include "trainers/metrics/crc32c.h"

namespace mm::train {
namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_tag(std::string& out, int field, int wire_type) { put_varint(out, (uint64_t(field) << 3) | wire_type); }
template <class T>
void put_le(std::string& out, T v) {  // fixed-width little-endian (the host is little-endian)
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  put_tag(e, 1, 1);  // wall_time: double, fixed64
  put_le(e, wall_time);
  if (step != 0) {
    put_tag(e, 2, 0);  // step: int64 varint (two's complement for negatives)
    put_varint(e, static_cast<uint64_t>(step));
  }
  return e;
}
double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, 3, "brain.Event:2");
  return e;
}

std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_tag(v, 2, 5);  // simple_value: float, fixed32
    put_le(v, value);
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

std::string frame_record(const std::string& data) {
  std::string out;
  const uint64_t len = data.size();
  put_le(out, len);
  put_le(out, mask_crc32c(crc32c(&len, sizeof(len))));
  out += data;
  put_le(out, mask_crc32c(crc32c(data.data(), data.size())));
  return out;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const double t = now_seconds();
  path_ = (std::filesystem::path(dir) /
           fmt::format("events.out.tfevents.{}.{}", static_cast<int64_t>(t), host_name("localhost")))
              .string();
  f_ = std::fopen(path_.c_str(), "ae");
  MM_CHECK(f_ != nullptr, "{}: cannot open: {}", path_, std::strerror(errno));
  write_record(encode_file_version_event(t));
}

TensorBoardWriter::~TensorBoardWriter() {
  if (f_) std::fclose(f_);
}

void TensorBoardWriter::add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  write_record(encode_scalar_event(now_seconds(), step, scalars));
}

void TensorBoardWriter::write_record(const std::string& data) {
  const std::string rec = frame_record(data);
  MM_CHECK(std::fwrite(rec.data(), 1, rec.size(), f_) == rec.size() && std::fflush(f_) == 0, "{}: write failed: {}",
           path_, std::strerror(errno));
}

}  // namespace mm::train
