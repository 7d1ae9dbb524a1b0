// The local multi-process launcher behind `mmtrain launch`: starts N ranks of an executable with
// torchrun-style variables, prefixes their output with "[rank N]", forwards SIGINT/SIGTERM, and
// stops every rank (SIGTERM, then SIGKILL after a grace period) as soon as one fails.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace mm::dist {

struct LaunchOptions {
  int nproc = 1;  // ranks on this node
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;            // 0: a free port (single node) or 29500 (several nodes)
  std::string exe;                // what each rank runs (mmtrain: /proc/self/exe)
  std::vector<std::string> args;  // its arguments
  double grace_s = 5;             // SIGTERM -> SIGKILL delay when stopping ranks
  double timeout_s = 0;           // whole-run limit; 0 = none
  std::ostream* out = nullptr;    // prefixed lines of both streams; null: stdout/stderr
};

struct LaunchResult {
  int exit_code = 0;            // 0 when every rank exited 0
  int failed_rank = -1;         // the first rank that failed (global rank), -1 if none
  std::string last_error_line;  // its last stderr line (else stdout line)
  std::string message;          // one line for the user; empty on success
};

LaunchResult launch(const LaunchOptions& opts);

// A TCP port that was free on 127.0.0.1 a moment ago.
int find_free_port();

}  // namespace mm::dist
