#include "core/host.h"

#include <unistd.h>
#include <climits>

namespace mm {

std::string host_name(const std::string& fallback) {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return fallback;
  return host;
}

}  // namespace mm
