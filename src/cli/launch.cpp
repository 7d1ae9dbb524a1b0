// mmtrain launch: runs N local ranks of this executable (`mmtrain launch --nproc 2 -- train ...`)
// with torchrun-style variables; see docs/distributed.md and src/dist/launcher.h.
#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "dist/launcher.h"

namespace mm::cli {

void add_launch(CLI::App& app) {
  auto opts = std::make_shared<dist::LaunchOptions>();
  CLI::App* sub = app.add_subcommand(
      "launch", "start N local ranks of mmtrain running SUB ARGS (e.g. launch --nproc 2 -- train --config x.yaml)");
  // torchrun's spellings are accepted beside ours (--nproc_per_node, --node_rank, --master_addr, ...).
  sub->add_option("--nproc,--nproc_per_node,--nproc-per-node", opts->nproc, "ranks on this node")
      ->check(CLI::PositiveNumber)
      ->required();
  sub->add_option("--nnodes", opts->nnodes, "nodes in the job")->check(CLI::PositiveNumber);
  sub->add_option("--node-rank,--node_rank", opts->node_rank, "this node's index in [0, nnodes)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--master-addr,--master_addr", opts->master_addr, "rendezvous host (rank 0's node)");
  sub->add_option("--master-port,--master_port", opts->master_port,
                  "rendezvous port (default: a free port on one node, 29500 on several)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--grace", opts->grace_s, "seconds between SIGTERM and SIGKILL when stopping ranks")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--timeout", opts->timeout_s, "stop every rank after this many seconds (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("command", opts->args, "the mmtrain subcommand and its arguments, after --")->required();
  sub->callback([opts]() {
    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    MM_CHECK(n > 0, "launch: cannot resolve /proc/self/exe");
    self[n] = '\0';
    opts->exe = self;
    const dist::LaunchResult r = dist::launch(*opts);
    if (r.exit_code != 0) throw mm::Error("launch: " + r.message);
  });
}

}  // namespace mm::cli
