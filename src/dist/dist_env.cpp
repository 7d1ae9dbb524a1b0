// Reads rank/world/rendezvous from launcher variables; expands Slurm hostlists.
#include "dist/dist_env.h"

#include <cstdlib>

#include "core/check.h"

namespace mm::dist {
namespace {

int env_int(const EnvLookup& getenv, const char* name, int fallback) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  MM_CHECK(end != v && *end == '\0' && x >= 0 && x < (1L << 30),
           "environment variable {}='{}': expected a non-negative integer", name, v);
  return static_cast<int>(x);
}

bool has(const EnvLookup& getenv, const char* name) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0';
}

// Splits at commas that are not inside [...].
std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    MM_CHECK(depth >= 0 && depth <= 1, "SLURM_NODELIST '{}': unbalanced brackets", s);
    if (c == ',' && depth == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  MM_CHECK(depth == 0, "SLURM_NODELIST '{}': unbalanced brackets", s);
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Expands the first [...] group of `item`, recursing for further groups ("rack[1-2]-n[1-2]").
void expand(const std::string& item, const std::string& whole, std::vector<std::string>& out) {
  size_t open = item.find('[');
  if (open == std::string::npos) {
    out.push_back(item);
    return;
  }
  size_t close = item.find(']', open);
  MM_CHECK(close != std::string::npos, "SLURM_NODELIST '{}': unbalanced brackets", whole);
  const std::string prefix = item.substr(0, open), suffix = item.substr(close + 1);
  const std::string body = item.substr(open + 1, close - open - 1);
  size_t start = 0;
  while (start <= body.size()) {
    size_t comma = body.find(',', start);
    std::string range = body.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    MM_CHECK(!range.empty(), "SLURM_NODELIST '{}': empty range in [{}]", whole, body);
    size_t dash = range.find('-');
    std::string lo = range.substr(0, dash), hi = dash == std::string::npos ? lo : range.substr(dash + 1);
    MM_CHECK(!lo.empty() && !hi.empty() && lo.find_first_not_of("0123456789") == std::string::npos &&
                 hi.find_first_not_of("0123456789") == std::string::npos,
             "SLURM_NODELIST '{}': expected numbers or a-b ranges in [{}]", whole, body);
    long a = std::stol(lo), b = std::stol(hi);
    MM_CHECK(a <= b && b - a < 100000, "SLURM_NODELIST '{}': bad range {}", whole, range);
    for (long x = a; x <= b; ++x) {
      std::string num = std::to_string(x);
      if (num.size() < lo.size()) num = std::string(lo.size() - num.size(), '0') + num;  // keep zero padding
      expand(prefix + num + suffix, whole, out);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace

std::vector<std::string> parse_nodelist(const std::string& nodelist) {
  std::vector<std::string> hosts;
  for (const std::string& item : split_top_level(nodelist)) expand(item, nodelist, hosts);
  MM_CHECK(!hosts.empty(), "SLURM_NODELIST '{}': no hosts", nodelist);
  return hosts;
}

DistEnv dist_env_from(const EnvLookup& getenv) {
  DistEnv e;
  if (has(getenv, "RANK") && has(getenv, "WORLD_SIZE")) {
    e.launcher = "torchrun";
    e.rank = env_int(getenv, "RANK", 0);
    e.world_size = env_int(getenv, "WORLD_SIZE", 1);
    e.local_rank = env_int(getenv, "LOCAL_RANK", e.rank);
    e.local_world_size = env_int(getenv, "LOCAL_WORLD_SIZE", e.world_size);
  } else if (has(getenv, "SLURM_PROCID") && has(getenv, "SLURM_NTASKS")) {
    e.launcher = "slurm";
    e.rank = env_int(getenv, "SLURM_PROCID", 0);
    e.world_size = env_int(getenv, "SLURM_NTASKS", 1);
    e.local_rank = env_int(getenv, "SLURM_LOCALID", 0);
    // SLURM_TASKS_PER_NODE looks like "4(x2)" or "4,3": its first number is this layout's width.
    e.local_world_size = has(getenv, "SLURM_TASKS_PER_NODE") ? std::atoi(getenv("SLURM_TASKS_PER_NODE"))
                                                             : env_int(getenv, "SLURM_NTASKS_PER_NODE", 1);
    const char* nodes = has(getenv, "SLURM_STEP_NODELIST")  ? getenv("SLURM_STEP_NODELIST")
                        : has(getenv, "SLURM_JOB_NODELIST") ? getenv("SLURM_JOB_NODELIST")
                                                            : getenv("SLURM_NODELIST");
    if (nodes != nullptr && *nodes != '\0') e.master_addr = parse_nodelist(nodes).front();
    // One port per job so two jobs sharing a node do not collide.
    if (has(getenv, "SLURM_JOB_ID")) e.master_port = 20000 + env_int(getenv, "SLURM_JOB_ID", 0) % 20000;
  } else if (has(getenv, "OMPI_COMM_WORLD_RANK") && has(getenv, "OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "mpi";
    e.rank = env_int(getenv, "OMPI_COMM_WORLD_RANK", 0);
    e.world_size = env_int(getenv, "OMPI_COMM_WORLD_SIZE", 1);
    e.local_rank = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    e.local_world_size = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  }
  if (has(getenv, "MASTER_ADDR")) e.master_addr = getenv("MASTER_ADDR");
  e.master_port = env_int(getenv, "MASTER_PORT", e.master_port);
  MM_CHECK(e.world_size >= 1 && e.rank < e.world_size, "{} environment: rank {} is not below world size {}", e.launcher,
           e.rank, e.world_size);
  MM_CHECK(e.master_port > 0 && e.master_port < 65536, "MASTER_PORT {}: expected 1..65535", e.master_port);
  if (e.local_world_size < 1) e.local_world_size = 1;
  return e;
}

DistEnv dist_env_from_process() {
  return dist_env_from([](const char* name) { return static_cast<const char*>(std::getenv(name)); });
}

}  // namespace mm::dist
