// Where golden files live (MM_TEST_DATA_DIR, set by tests/support/CMakeLists.txt) and loading them.
#include "support/golden_file.h"

namespace mm::test {

std::string golden_path(const std::string& name) {
  return std::string(MM_TEST_DATA_DIR) + "/golden/" + name + ".safetensors";
}

Golden load_golden(const std::string& name) { return Golden{mm::safetensors::load(golden_path(name))}; }

}  // namespace mm::test
