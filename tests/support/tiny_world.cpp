// write_tiny_world: tests/cli/tiny_world.sh in a child process (MM_SOURCE_DIR is set by
// tests/support/CMakeLists.txt).
#include "support/tiny_world.h"

#include <cstdlib>

namespace mm::test {

int write_tiny_world(const std::string& mmtrain, const std::filesystem::path& dir, const std::filesystem::path& log) {
  std::filesystem::remove_all(dir);
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path());  // for a log next to dir
  std::string cmd =
      std::string(MM_SOURCE_DIR) + "/tests/cli/tiny_world.sh " + mmtrain + " " + MM_SOURCE_DIR + " " + dir.string();
  if (!log.empty()) cmd += " > " + log.string() + " 2>&1";
  return std::system(cmd.c_str());
}

}  // namespace mm::test
