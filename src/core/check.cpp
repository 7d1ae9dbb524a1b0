#include "core/check.h"

#include <cctype>
#include <cstring>

namespace mm {

std::string without_location(const std::string& what) {
  // "<path ending in .cpp or .h>:<digits>: " at the very start, as throw_check_failure writes it.
  const size_t colon = what.find(':');
  if (colon == std::string::npos) return what;
  const std::string path = what.substr(0, colon);
  const bool source = path.size() > 2 && path.find(' ') == std::string::npos &&
                      (path.rfind(".cpp") == path.size() - 4 || path.rfind(".h") == path.size() - 2);
  size_t i = colon + 1;
  while (i < what.size() && std::isdigit(static_cast<unsigned char>(what[i]))) ++i;
  if (!source || i == colon + 1 || what.compare(i, 2, ": ") != 0) return what;
  return what.substr(i + 2);
}

}  // namespace mm

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
