// metrics.jsonl: one JSON object per logged step, appended and flushed line by line.
#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace mm::train {

class MetricsJsonl {
 public:
  // Opens `path` for appending (a resumed run continues the same file); creates parent folders.
  explicit MetricsJsonl(const std::string& path);
  ~MetricsJsonl();
  MetricsJsonl(const MetricsJsonl&) = delete;
  MetricsJsonl& operator=(const MetricsJsonl&) = delete;

  // Writes `record` (an object; "step" is set to `step`) as one line and flushes it to the OS.
  void log(int64_t step, nlohmann::json record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace mm::train
