// Append-only metrics.jsonl writer.
#include "trainers/metrics/metrics_jsonl.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/check.h"

namespace mm::train {

MetricsJsonl::MetricsJsonl(const std::string& path) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  f_ = std::fopen(path.c_str(), "ae");
  MM_CHECK(f_ != nullptr, "{}: cannot open for appending: {}", path, std::strerror(errno));
}

MetricsJsonl::~MetricsJsonl() {
  if (f_) std::fclose(f_);
}

void MetricsJsonl::log(int64_t step, nlohmann::json record) {
  MM_CHECK(record.is_object() || record.is_null(), "{}: a metrics record must be a JSON object", path_);
  record["step"] = step;
  // Non-finite floats have no JSON form; nlohmann writes them as null, which readers accept.
  const std::string line = record.dump() + "\n";
  MM_CHECK(std::fwrite(line.data(), 1, line.size(), f_) == line.size() && std::fflush(f_) == 0, "{}: write failed: {}",
           path_, std::strerror(errno));
}

}  // namespace mm::train
