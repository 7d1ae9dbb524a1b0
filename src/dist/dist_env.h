// Where this process sits in a distributed run: rank, world size, local rank and the rendezvous
// address, read from torchrun, Slurm or Open MPI variables (single process when none is set).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mm::dist {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";  // torchrun | slurm | mpi | none
};

// Looks a variable up; returns nullptr when unset (std::getenv in production, a map in tests).
using EnvLookup = std::function<const char*(const char*)>;

// Reads the environment: torchrun (RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT) first,
// then Slurm (SLURM_PROCID/NTASKS/LOCALID, first host of SLURM_NODELIST), then Open MPI
// (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK). MASTER_ADDR/MASTER_PORT override under any launcher.
DistEnv dist_env_from(const EnvLookup& getenv);
DistEnv dist_env_from_process();  // dist_env_from(std::getenv)

// Expands a Slurm hostlist: "node[01-03,07],gpu5" -> node01 node02 node03 node07 gpu5.
std::vector<std::string> parse_nodelist(const std::string& nodelist);

}  // namespace mm::dist
