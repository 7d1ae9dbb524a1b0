// Checkpoint save (temporary folder, fsync, rename, LATEST last), verified load, fallback, retention.
#include "models/checkpoint/checkpoint_manager.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "core/safetensors.h"
#include "models/checkpoint/manifest.h"

namespace mm {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kFiles = {"model.safetensors", "optimizer.safetensors", "state.json", "config.yaml"};

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MM_CHECK(fd >= 0, "checkpoint: cannot open '{}' to fsync it: {}", path, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  MM_CHECK(rc == 0 || err == EINVAL, "checkpoint: fsync of '{}' failed: {}", path, std::strerror(err));
}

// Leftovers of interrupted or failed saves: temporary and moved-aside step folders, LATEST.tmp.*.
bool is_save_leftover(const std::string& fname) {
  return fname.rfind(".tmp.step_", 0) == 0 || fname.rfind(".old.step_", 0) == 0 || fname.rfind("LATEST.tmp.", 0) == 0 ||
         fname.rfind(".shards.step_", 0) == 0;
}

// The optimizer shard files a MANIFEST lists (dist.shard: optimizer), in rank order.
std::vector<std::string> listed_shards(const std::string& dir) {
  const std::string mpath = (fs::path(dir) / "MANIFEST").string();
  std::vector<std::string> out;
  for (const auto& e : parse_manifest(io::read_file(mpath), mpath))
    if (e.file.rfind("optimizer.rank", 0) == 0) out.push_back(e.file);
  return out;
}

uint64_t tensors_bytes(const std::map<std::string, torch::Tensor>& tensors) {
  uint64_t n = 0;
  for (const auto& [name, t] : tensors) n += static_cast<uint64_t>(t.numel()) * t.element_size() + name.size() + 128;
  return n;
}

// step of a "step_NNNNNN" name, or -1.
int64_t parse_step(const std::string& name) {
  if (name.rfind("step_", 0) != 0 || name.size() <= 5) return -1;
  for (std::size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(5));
}

}  // namespace

CheckpointManager::CheckpointManager(std::string dir, RetentionPolicy policy) : dir_(std::move(dir)), policy_(policy) {
  MM_CHECK(policy_.keep_last >= 1, "checkpoint.keep_last: must be >= 1, got {}", policy_.keep_last);
  MM_CHECK(policy_.keep_every >= 0, "checkpoint.keep_every: must be >= 0, got {}", policy_.keep_every);
  std::error_code ec;
  fs::create_directories(dir_, ec);  // a read-only disk, a path below a file: one line, not an internal error
  if (ec) throw mm::Error(fmt::format("checkpoints folder '{}': cannot create it: {}", dir_, ec.message()));
  MM_CHECK(fs::is_directory(dir_, ec), "checkpoints folder '{}' is not a folder", dir_);
}

void CheckpointManager::remove_leftovers(const std::string& keep) const {
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string fname = it->path().filename().string();
    if (!is_save_leftover(fname) || fname == keep) continue;
    std::error_code rm;
    fs::remove_all(it->path(), rm);
    if (rm) mm::log::get("checkpoint")->warn("could not remove the leftover {}: {}", it->path().string(), rm.message());
  }
}

uint64_t CheckpointManager::free_bytes() const {
  if (free_bytes_probe_) return free_bytes_probe_();
  struct statvfs st {};
  if (::statvfs(dir_.c_str(), &st) != 0) return UINT64_MAX;  // unknown: let the writes report it
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

uint64_t CheckpointManager::estimate_bytes(const std::map<std::string, torch::Tensor>& model,
                                           const std::map<std::string, torch::Tensor>& optimizer,
                                           uint64_t other_bytes) {
  // The tensors, their safetensors headers, the small files, and 1 MiB + 1% of slack for metadata.
  const uint64_t payload = tensors_bytes(model) + tensors_bytes(optimizer) + other_bytes + 4096;
  return payload + payload / 100 + (uint64_t{1} << 20);
}

std::string CheckpointManager::folder_name(int64_t step) { return fmt::format("step_{:06d}", step); }

std::string CheckpointManager::shard_staging_dir(int64_t step) const {
  return (fs::path(dir_) / (".shards." + folder_name(step))).string();
}

std::string CheckpointManager::shard_file_name(int rank) { return fmt::format("optimizer.rank{}.safetensors", rank); }

std::string CheckpointManager::save(int64_t step, const std::map<std::string, torch::Tensor>& model,
                                    const std::map<std::string, torch::Tensor>& optimizer, nlohmann::json state,
                                    const std::string& config_yaml, const std::string& tokenizer_model,
                                    const std::vector<std::string>& optimizer_shards) {
  MM_CHECK(step >= 0, "checkpoint: step must be >= 0, got {}", step);
  const std::string name = folder_name(step);
  const fs::path final_dir = fs::path(dir_) / name;
  const fs::path tmp = fs::path(dir_) / fmt::format(".tmp.{}.{}", name, ::getpid());
  // Leftovers of earlier failed or interrupted saves go first (they hold space); the run directory
  // is locked (RunLock), so no other trainer is writing here.
  remove_leftovers(fs::path(shard_staging_dir(step)).filename().string());
  if (!state.is_object()) state = nlohmann::json::object();
  state["step"] = step;
  const std::string state_text = state.dump(2) + "\n";
  // A full disk fails here, in one line, before anything is written or removed.
  const uint64_t need =
      estimate_bytes(model, optimizer, state_text.size() + config_yaml.size() + tokenizer_model.size());
  const uint64_t avail = free_bytes();
  if (avail < need) {
    throw mm::Error(
        fmt::format("checkpoint {}: not enough free space in {}: about {} MiB needed, {} MiB free; "
                    "no checkpoint was written or removed",
                    name, dir_, (need + (1 << 20) - 1) >> 20, avail >> 20));
  }
  try {
    write_folder(tmp, model, optimizer, state_text, config_yaml, tokenizer_model, optimizer_shards);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);  // a failed save (disk full, EIO) leaves no temporary folder behind
    throw;
  }
  if (fs::exists(final_dir)) {  // re-saving a step (e.g. after a resume): move the old one aside
    const fs::path old = fs::path(dir_) / fmt::format(".old.{}.{}", name, ::getpid());
    fs::remove_all(old);
    fs::rename(final_dir, old);
    fs::remove_all(old);
  }
  fs::rename(tmp, final_dir);
  if (!optimizer_shards.empty()) fs::remove_all(shard_staging_dir(step));
  fsync_path(dir_);
  io::write_file_atomic((fs::path(dir_) / "LATEST").string(), name + "\n");
  apply_retention(step);
  mm::log::get("checkpoint")->info("saved {}", final_dir.string());
  return final_dir.string();
}

void CheckpointManager::write_folder(const std::filesystem::path& tmp,
                                     const std::map<std::string, torch::Tensor>& model,
                                     const std::map<std::string, torch::Tensor>& optimizer,
                                     const std::string& state_text, const std::string& config_yaml,
                                     const std::string& tokenizer_model,
                                     const std::vector<std::string>& optimizer_shards) {
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // Each writer is atomic inside tmp and fsyncs its file and tmp itself.
  safetensors::save((tmp / "model.safetensors").string(), model);
  safetensors::save((tmp / "optimizer.safetensors").string(), optimizer);
  io::write_file_atomic((tmp / "state.json").string(), state_text);
  io::write_file_atomic((tmp / "config.yaml").string(), config_yaml);
  std::vector<std::string> files = kFiles;
  for (const auto& shard : optimizer_shards) {  // written (and fsynced) by their ranks: moved in
    const std::string name = fs::path(shard).filename().string();
    MM_CHECK(name.rfind("optimizer.rank", 0) == 0, "checkpoint: '{}' is not an optimizer shard file", shard);
    fs::rename(shard, tmp / name);
    files.push_back(name);
  }
  if (!tokenizer_model.empty()) {
    io::write_file_atomic((tmp / kCheckpointTokenizer).string(), tokenizer_model);
    files.push_back(kCheckpointTokenizer);
  }
  std::vector<ManifestEntry> entries;
  for (const auto& f : files) entries.push_back(describe_file((tmp / f).string(), f));
  io::write_file_atomic((tmp / "MANIFEST").string(), format_manifest(entries));
  fsync_path(tmp.string());
}

std::string CheckpointManager::verify(const std::string& path, Part part) {
  if (part == Part::kWeights) {
    std::vector<std::string> size_only{"optimizer.safetensors"};
    try {
      for (auto& shard : listed_shards(path)) size_only.push_back(std::move(shard));
    } catch (const std::exception&) {
      // a missing or malformed MANIFEST: verify_folder says so
    }
    return verify_folder(path, kFiles, size_only);
  }
  return verify_folder(path, kFiles);
}

Checkpoint CheckpointManager::load(const std::string& path, Part part) {
  const std::string problem = verify(path, part);
  MM_CHECK(problem.empty(), "checkpoint {} does not verify: {}", path, problem);
  Checkpoint c;
  c.path = path;
  c.model = safetensors::load((fs::path(path) / "model.safetensors").string()).tensors;
  if (part == Part::kEverything) {
    c.optimizer = safetensors::load((fs::path(path) / "optimizer.safetensors").string()).tensors;
    for (const auto& shard : listed_shards(path)) {  // mapped, not copied: a rank copies only what it owns
      const std::string sp = (fs::path(path) / shard).string();
      for (auto& [name, t] : safetensors::load(sp).tensors)
        MM_CHECK(c.optimizer.emplace(name, std::move(t)).second, "{}: optimizer entry '{}' is also in another shard",
                 sp, name);
    }
  }
  const std::string sp = (fs::path(path) / "state.json").string();
  try {
    c.state = nlohmann::json::parse(io::read_file(sp));
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("{}: invalid JSON: {}", sp, e.what());
  }
  MM_CHECK(c.state.is_object() && c.state.contains("step") && c.state["step"].is_number_integer(),
           "{}: expected an object with an integer \"step\"", sp);
  c.step = c.state["step"].get<int64_t>();
  c.config_yaml = io::read_file((fs::path(path) / "config.yaml").string());
  return c;
}

std::vector<std::pair<int64_t, std::string>> CheckpointManager::list() const {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const int64_t s = parse_step(e.path().filename().string());
    if (s >= 0 && e.is_directory()) out.emplace_back(s, e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> CheckpointManager::find_latest_good() const {
  auto logger = mm::log::get("checkpoint");
  const fs::path latest = fs::path(dir_) / "LATEST";
  std::string named;
  if (fs::exists(latest)) {
    named = io::read_file(latest.string());
    while (!named.empty() && (named.back() == '\n' || named.back() == ' ')) named.pop_back();
    const std::string p = (fs::path(dir_) / named).string();
    if (parse_step(named) >= 0) {
      const std::string problem = verify(p);
      if (problem.empty()) return p;
      logger->warn("LATEST names {}, which does not verify ({}); falling back", p, problem);
    } else {
      logger->warn("{}: '{}' is not a step_NNNNNN name; falling back", latest.string(), named);
    }
  } else {
    logger->warn("{} is missing; looking for the newest good checkpoint", latest.string());
  }
  auto all = list();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (fs::path(it->second).filename() == named) continue;  // already rejected
    const std::string problem = verify(it->second);
    if (problem.empty()) {
      logger->warn("resuming from {} instead", it->second);
      return it->second;
    }
    logger->warn("skipping {}: {}", it->second, problem);
  }
  return std::nullopt;
}

void CheckpointManager::apply_retention(int64_t latest_step) const {
  auto all = list();
  const int64_t n = static_cast<int64_t>(all.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t step = all[i].first;
    const bool recent = i >= n - policy_.keep_last;
    const bool milestone = policy_.keep_every > 0 && step % policy_.keep_every == 0;
    if (recent || milestone || step == latest_step) continue;
    std::error_code ec;
    fs::remove_all(all[i].second, ec);
    if (ec) mm::log::get("checkpoint")->warn("could not remove {}: {}", all[i].second, ec.message());
  }
  remove_leftovers();
}

}  // namespace mm
