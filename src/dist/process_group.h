// The process group of a run: c10d TCPStore rendezvous (rank 0 serves) plus ProcessGroupGloo, or
// ProcessGroupNCCL when built with CUDA and a GPU is present. A single process gets no c10d group.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <string>

#include "core/config/dist_config.h"
#include "dist/dist_env.h"

namespace mm::dist {

class Group {
 public:
  Group() = default;  // the single-process group: every collective is the identity
  Group(DistEnv env, std::string backend, c10::intrusive_ptr<c10d::Store> store,
        c10::intrusive_ptr<c10d::ProcessGroup> pg, std::chrono::milliseconds timeout);

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  bool distributed() const { return pg_.defined(); }
  const std::string& backend() const { return backend_; }
  const DistEnv& env() const { return env_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Changes how long wait() lets a collective run (the group's connections are already made).
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  const c10::intrusive_ptr<c10d::ProcessGroup>& c10d_group() const { return pg_; }

  // Waits for `work`; a failure or timeout becomes mm::Error naming `collective`.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& collective) const;

 private:
  DistEnv env_;
  std::string backend_ = "none";
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> pg_;
  std::chrono::milliseconds timeout_{300000};
};

// Resolves "auto" to nccl (CUDA build with a GPU) or gloo; checks an explicit choice is usable.
std::string resolve_backend(const std::string& requested);

// Creates the group for `env` (world size 1: the trivial group, no sockets).
Group init_process_group(const DistEnv& env, const DistConfig& cfg);

}  // namespace mm::dist
