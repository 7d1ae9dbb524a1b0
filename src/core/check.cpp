#include "core/check.h"

#include <cstring>

namespace mm::detail {

void throw_check_failure(const char* file, int line, const std::string& msg) {
  // Keep the path short: from "src/", "data_pipeline/" ... onwards, as a reader finds it in the tree.
  const char* shown = file;
  for (const char* root : {"/src/", "/data_pipeline/", "/trainers/", "/eval/", "/tests/"}) {
    if (const char* p = std::strstr(file, root)) {
      shown = p + 1;
      break;
    }
  }
  throw Error(fmt::format("{}:{}: {}", shown, line, msg));
}

}  // namespace mm::detail
