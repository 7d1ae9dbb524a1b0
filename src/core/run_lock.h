// RunLock: one trainer per run directory. An exclusive flock(2) on <run_dir>/.lock held for the
// life of a training; the file names the holder (host, pid, start time) so a refused second
// trainer can say who holds it. The kernel releases a flock when its holder exits in any way
// (SIGKILL included), so a lock of a dead process never needs manual cleanup; the file itself
// stays and is rewritten by the next holder. Ranks of one launch count as one holder: only
// rank 0 takes the lock (docs/reliability.md). Readers (eval, export, report) never take it.
#pragma once
#include <string>

namespace mm {

class RunLock {
 public:
  // The lock file's name inside a run directory.
  static constexpr const char* kFileName = ".lock";

  // Creates `run_dir` when missing and takes the lock without waiting. Throws mm::Error (one line)
  // when the folder cannot be created or written ("run_dir 'runs/x': cannot create it: Not a
  // directory") or when another process holds it ("run_dir 'runs/x' is in use by another
  // training: pid 4242 on host node1, started 2026-12-07T01:02:03Z; ...").
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::string& run_dir() const { return run_dir_; }
  // "pid 4242 on host node1, started 2026-12-07T01:02:03Z": what this holder wrote into the file.
  const std::string& holder() const { return holder_; }

  // What the lock file of `run_dir` says about its holder when the lock is held by someone,
  // "" when it is free or there is no lock file (a probe: takes and drops the lock if free).
  static std::string current_holder(const std::string& run_dir);

 private:
  void release() noexcept;

  std::string run_dir_;
  std::string holder_;
  int fd_ = -1;
};

}  // namespace mm
