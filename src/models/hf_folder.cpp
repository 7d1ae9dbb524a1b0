// Reading a Hugging Face weight folder (hf_folder.h).
#include "models/hf_folder.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"

namespace fs = std::filesystem;

namespace mm::hf {
namespace {

constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

void add_file(WeightFiles& w, const std::string& path) {
  const safetensors::Header h = safetensors::read_header(path);  // checks every tensor's bytes lie in the file
  w.files.push_back(path);
  w.data_start[path] = h.data_start;
  for (const auto& [name, info] : h.tensors) {
    // transformers before 4.31 saved CLIP's position_ids index buffers (I64); the importers read past them
    const bool index_buffer =
        info.dtype == "I64" && name.size() > 13 && name.rfind(".position_ids") == name.size() - 13;
    MM_CHECK(info.dtype == "F32" || info.dtype == "F16" || info.dtype == "BF16" || index_buffer,
             "{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", path, name, info.dtype);
    MM_CHECK(!w.file_of.count(name), "{}: tensor '{}' is also in {}", path, name, w.file_of[name]);
    w.file_of[name] = path;
    w.info[name] = info;
    if (!index_buffer) w.dtypes.insert(info.dtype);
    w.bytes += info.end - info.begin;
  }
}

}  // namespace

WeightFiles list_weights(const std::string& dir) {
  WeightFiles w;
  w.dir = dir;
  const fs::path index = fs::path(dir) / kIndex, single = fs::path(dir) / kSingle;
  if (!fs::exists(index)) {
    MM_CHECK(fs::exists(single), "{}: no {} and no {} (a Hugging Face model folder holds one of them)", dir, kSingle,
             kIndex);
    add_file(w, single.string());
    return w;
  }
  w.index = index.string();
  std::ifstream in(index);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", w.index, e.what());
  }
  MM_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
           "{}: expected an object with a 'weight_map' of tensor name -> file", w.index);
  std::map<std::string, std::string> listed;  // tensor -> full path of its file
  std::set<std::string> shards;
  for (const auto& [name, file] : j["weight_map"].items()) {
    MM_CHECK(file.is_string(), "{}: weight_map['{}'] must be a file name, got {}", w.index, name, file.dump());
    const std::string f = file.get<std::string>();
    MM_CHECK(!f.empty() && f.find('/') == std::string::npos && f != "." && f != "..",
             "{}: weight_map['{}']: '{}' is not a file name in the folder", w.index, name, f);
    listed[name] = (fs::path(dir) / f).string();
    shards.insert(listed[name]);
  }
  MM_CHECK(!listed.empty(), "{}: weight_map lists no tensors", w.index);
  for (const auto& shard : shards) {
    MM_CHECK(fs::exists(shard), "{}: shard {} is missing (listed for tensor '{}')", w.index, shard,
             std::find_if(listed.begin(), listed.end(), [&](const auto& kv) { return kv.second == shard; })->first);
    add_file(w, shard);
  }
  for (const auto& [name, file] : listed) {
    auto it = w.file_of.find(name);
    MM_CHECK(it != w.file_of.end(), "{}: tensor '{}' listed in {} is missing", file, name, kIndex);
    MM_CHECK(it->second == file, "{}: tensor '{}' is in {}, but the index lists it in {}", w.index, name, it->second,
             file);
  }
  for (const auto& [name, file] : w.file_of)
    MM_CHECK(listed.count(name), "{}: tensor '{}' is not listed in {}", file, name, kIndex);
  return w;
}

torch::Tensor read_tensor(const WeightFiles& w, const std::string& name, torch::ScalarType dtype) {
  auto it = w.info.find(name);
  MM_CHECK(it != w.info.end(), "{}: no tensor '{}'", w.dir, name);
  const safetensors::TensorInfo& info = it->second;
  const std::string& path = w.file_of.at(name);
  const torch::ScalarType disk = safetensors::scalar_type(info.dtype);
  // Read straight into the result when no conversion is needed, else into one tensor in the disk's dtype.
  auto buf = torch::empty(info.shape, torch::TensorOptions().dtype(disk));
  const uint64_t nbytes = info.end - info.begin;
  MM_CHECK(nbytes == static_cast<uint64_t>(buf.numel()) * buf.element_size(),
           "{}: tensor '{}': {} bytes for shape [{}] of {}", path, name, nbytes, fmt::join(info.shape, ", "),
           info.dtype);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MM_CHECK(fd >= 0, "{}: cannot open ({})", path, std::strerror(errno));
  auto* dst = static_cast<char*>(buf.data_ptr());
  uint64_t done = 0, offset = w.data_start.at(path) + info.begin;
  while (done < nbytes) {
    const ssize_t n = ::pread(fd, dst + done, nbytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      MM_FAIL("{}: tensor '{}': read failed after {} of {} bytes ({})", path, name, done, nbytes,
              n == 0 ? "file shorter than its header says" : std::strerror(err));
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return disk == dtype ? buf : buf.to(dtype);
}

TensorMap read_all(const WeightFiles& w, torch::ScalarType dtype) {
  TensorMap out;
  for (const auto& [name, info] : w.info) out[name] = read_tensor(w, name, dtype);
  return out;
}

}  // namespace mm::hf
