// Launcher environments (torchrun, Slurm, Open MPI) and Slurm hostlist expansion.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "core/check.h"
#include "dist/dist_env.h"
#include "dist/process_group.h"

using mm::dist::dist_env_from;
using mm::dist::parse_nodelist;

namespace {

mm::dist::EnvLookup env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("no launcher variables: a single process", "[dist]") {
  auto e = dist_env_from(env_of({}));
  CHECK(e.launcher == "none");
  CHECK(e.rank == 0);
  CHECK(e.world_size == 1);
  CHECK(e.local_rank == 0);
}

TEST_CASE("torchrun variables", "[dist]") {
  auto e = dist_env_from(env_of({{"RANK", "5"},
                                 {"WORLD_SIZE", "8"},
                                 {"LOCAL_RANK", "1"},
                                 {"LOCAL_WORLD_SIZE", "4"},
                                 {"MASTER_ADDR", "n0.cluster"},
                                 {"MASTER_PORT", "29611"}}));
  CHECK(e.launcher == "torchrun");
  CHECK(e.rank == 5);
  CHECK(e.world_size == 8);
  CHECK(e.local_rank == 1);
  CHECK(e.local_world_size == 4);
  CHECK(e.master_addr == "n0.cluster");
  CHECK(e.master_port == 29611);
  CHECK_THROWS_AS(dist_env_from(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})), mm::Error);
  CHECK_THROWS_WITH(dist_env_from(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})), Catch::Contains("RANK='x'"));
}

TEST_CASE("Slurm variables: rank, local id and the first host of the nodelist", "[dist]") {
  auto e = dist_env_from(env_of({{"SLURM_PROCID", "6"},
                                 {"SLURM_NTASKS", "8"},
                                 {"SLURM_LOCALID", "2"},
                                 {"SLURM_TASKS_PER_NODE", "4(x2)"},
                                 {"SLURM_JOB_ID", "12345"},
                                 {"SLURM_NODELIST", "gpu[07-08],login1"}}));
  CHECK(e.launcher == "slurm");
  CHECK(e.rank == 6);
  CHECK(e.world_size == 8);
  CHECK(e.local_rank == 2);
  CHECK(e.local_world_size == 4);
  CHECK(e.master_addr == "gpu07");
  CHECK(e.master_port == 20000 + 12345 % 20000);
  // MASTER_PORT from the job script wins; torchrun variables win over Slurm's.
  auto p = dist_env_from(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_PORT", "4000"}}));
  CHECK(p.master_port == 4000);
  auto t = dist_env_from(env_of({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"RANK", "1"}, {"WORLD_SIZE", "2"}}));
  CHECK(t.launcher == "torchrun");
  CHECK(t.rank == 1);
}

TEST_CASE("Open MPI variables", "[dist]") {
  auto e = dist_env_from(env_of({{"OMPI_COMM_WORLD_RANK", "3"},
                                 {"OMPI_COMM_WORLD_SIZE", "4"},
                                 {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                 {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                                 {"MASTER_ADDR", "10.0.0.1"}}));
  CHECK(e.launcher == "mpi");
  CHECK(e.rank == 3);
  CHECK(e.world_size == 4);
  CHECK(e.local_rank == 1);
  CHECK(e.local_world_size == 2);
  CHECK(e.master_addr == "10.0.0.1");
}

TEST_CASE("Slurm nodelist expansion", "[dist]") {
  using V = std::vector<std::string>;
  CHECK(parse_nodelist("node1") == V{"node1"});
  CHECK(parse_nodelist("node[01-04,07],gpu5") == V{"node01", "node02", "node03", "node04", "node07", "gpu5"});
  CHECK(parse_nodelist("a[8-11]") == V{"a8", "a9", "a10", "a11"});
  CHECK(parse_nodelist("r[1-2]-n[09-10]") == V{"r1-n09", "r1-n10", "r2-n09", "r2-n10"});
  CHECK(parse_nodelist("x,y[3]") == V{"x", "y3"});
  CHECK_THROWS_AS(parse_nodelist("node[01-"), mm::Error);
  CHECK_THROWS_AS(parse_nodelist("node[a-b]"), mm::Error);
  CHECK_THROWS_AS(parse_nodelist(""), mm::Error);
}

TEST_CASE("backend choice on a CPU build", "[dist]") {
#ifndef MM_WITH_CUDA
  CHECK(mm::dist::resolve_backend("auto") == "gloo");
  CHECK_THROWS_WITH(mm::dist::resolve_backend("nccl"), Catch::Contains("needs a CUDA build"));
#endif
  CHECK(mm::dist::resolve_backend("gloo") == "gloo");
  CHECK_THROWS_AS(mm::dist::resolve_backend("mpi"), mm::Error);
}
