// `ablate run --parallel N`: the runs as child processes (`mmtrain ablate run ARGS --only I
// --threads K`), N at a time, torch threads split between them and, on a GPU machine, one GPU per
// child slot (CUDA_VISIBLE_DEVICES); each child writes its status into
// its run directory (ablate_status.json) and its console output into ablate.log there.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <torch/cuda.h>

#include "core/check.h"
#include "core/io.h"
#include "trainers/ablation/sweep_runner.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;

namespace mm::ablation::detail {
namespace {

pid_t spawn(const std::string& exe, const std::vector<std::string>& args, const std::string& log_path, int threads,
            const std::string& device) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string omp = std::to_string(threads);
  const pid_t pid = fork();
  MM_CHECK(pid >= 0, "ablate run: fork failed");
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    setenv("OMP_NUM_THREADS", omp.c_str(), 1);
    if (!device.empty()) setenv("CUDA_VISIBLE_DEVICES", device.c_str(), 1);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// What a finished child left: its status file, or a failure naming how it ended.
EntryState child_result(const std::string& run_dir, int wstatus) {
  const std::string log = (fs::path(run_dir) / kChildLogFile).string();
  EntryState e;
  if (const auto j = read_child_status(run_dir)) {
    e.status = j->value("status", std::string("failed"));
    e.error = j->value("error", std::string());
    return e;
  }
  e.status = "failed";
  if (WIFSIGNALED(wstatus))
    e.error = fmt::format("the run's process was killed by signal {} (its output: {})", WTERMSIG(wstatus), log);
  else
    e.error = fmt::format("the run's process exited with code {} without a status (its output: {})",
                          WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, log);
  return e;
}

}  // namespace

std::optional<nlohmann::json> read_child_status(const std::string& run_dir) {
  const fs::path file = fs::path(run_dir) / kChildStatusFile;
  if (!fs::is_regular_file(file)) return std::nullopt;
  try {
    return nlohmann::json::parse(io::read_file(file.string()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace mm::ablation::detail

namespace mm::ablation {

std::string device_for_slot(int slot, int gpus, const std::string& visible) {
  if (gpus <= 0) return "";
  std::vector<std::string> ids;
  for (size_t start = 0; start < visible.size();) {
    size_t end = visible.find(',', start);
    if (end == std::string::npos) end = visible.size();
    if (end > start) ids.push_back(visible.substr(start, end - start));
    start = end + 1;
  }
  if (ids.empty())
    for (int g = 0; g < gpus; ++g) ids.push_back(std::to_string(g));
  const size_t n = std::min(ids.size(), static_cast<size_t>(gpus));
  return ids[static_cast<size_t>(slot) % n];
}

}  // namespace mm::ablation

namespace mm::ablation::detail {

void Sweeper::run_children(const std::vector<size_t>& runs) {
  MM_CHECK(!opts_.exe.empty(), "ablate run --parallel: the mmtrain executable is unknown");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = opts_.threads > 0 ? opts_.threads : std::max(1, cores / opts_.parallel);
  const int gpus = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  std::vector<bool> slot_busy(static_cast<size_t>(opts_.parallel), false);  // one GPU per slot, round robin
  struct Child {
    size_t run;
    size_t slot;
    Stopwatch watch;
  };
  std::map<pid_t, Child> active;
  size_t next = 0;
  bool forwarded = false;
  Stopwatch tick;
  while (next < runs.size() || !active.empty()) {
    const bool stop = train::stop_requested().load();
    if (stop && !forwarded) {  // Ctrl-C reached the children too; a SIGTERM to us alone is passed on
      for (const auto& [pid, c] : active) kill(pid, SIGTERM);
      forwarded = true;
      stopped_ = true;
    }
    while (!stop && next < runs.size() && static_cast<int>(active.size()) < opts_.parallel) {
      const size_t r = runs[next++];
      const std::string& run_dir = plan_.runs[r].run_dir;
      fs::create_directories(run_dir);
      std::error_code ec;
      fs::remove(fs::path(run_dir) / kChildStatusFile, ec);
      std::vector<std::string> args = {"ablate", "run"};
      args.insert(args.end(), opts_.args.begin(), opts_.args.end());
      args.insert(args.end(), {"--only", std::to_string(r), "--threads", std::to_string(threads)});
      const auto free_slot = std::find(slot_busy.begin(), slot_busy.end(), false);
      const size_t slot = static_cast<size_t>(free_slot - slot_busy.begin());
      slot_busy[slot] = true;
      const std::string device = device_for_slot(static_cast<int>(slot), gpus, visible ? visible : "");
      const pid_t pid = spawn(opts_.exe, args, (fs::path(run_dir) / kChildLogFile).string(), threads, device);
      active.emplace(pid, Child{r, slot, Stopwatch()});
      state_.runs[r].status = "running";
      save();
      progress(fmt::format("started: {} ({} running, {} threads each{}; output in {}/{})", label({false, r}),
                           active.size(), threads, device.empty() ? "" : ", GPU " + device, run_dir, kChildLogFile));
    }
    if (stop && next < runs.size()) next = runs.size();  // the rest stay pending for the rerun
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const double dt = tick.restart();
    if (!active.empty()) busy_s_ += dt;
    int wstatus = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
      auto it = active.find(pid);
      if (it == active.end()) continue;
      const size_t r = it->second.run;
      const EntryState e = child_result(plan_.runs[r].run_dir, wstatus);
      if (e.status == "pending") stopped_ = true;
      finish_entry({false, r}, e, it->second.watch.seconds());
      slot_busy[it->second.slot] = false;
      active.erase(it);
      save();
      progress(fmt::format("{}: {}{}", e.status == "pending" ? "stopped" : e.status, label({false, r}),
                           e.error.empty() ? "" : " (" + e.error + ")"));
    }
  }
}

}  // namespace mm::ablation::detail
