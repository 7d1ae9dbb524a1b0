// Hex formatting of 64-bit hashes.
#include "core/hash.h"

#include <fmt/format.h>

namespace mm {

std::string hex64(uint64_t h) { return fmt::format("{:016x}", h); }

}  // namespace mm
