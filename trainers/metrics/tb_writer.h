// TensorBoard event-file writer for scalars: TFRecord framing (length, masked CRC32C of the
// length, data, masked CRC32C of the data) around hand-encoded Event protobufs.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mm::train {

// Event{wall_time=1 (double), step=2 (int64), file_version=3 (string) | summary=5 (Summary)},
// Summary{value=1 (repeated Value)}, Value{tag=1 (string), simple_value=2 (float)}.
std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars);
std::string encode_file_version_event(double wall_time);
// One TFRecord: uint64 length, masked crc32c(length), data, masked crc32c(data), little-endian.
std::string frame_record(const std::string& data);

class TensorBoardWriter {
 public:
  // Creates `dir` and dir/events.out.tfevents.<unix seconds>.<hostname>; the first record is
  // the file_version event "brain.Event:2".
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // One Event holding every (tag, value) of this step; flushed.
  void add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
  void add_scalar(int64_t step, const std::string& tag, float value) { add_scalars(step, {{tag, value}}); }
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);

  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace mm::train
