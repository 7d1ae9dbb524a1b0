// FNV-1a, 64 bit: the one string hash of the project (checkpoint MANIFESTs, config hashes, the
// mixture sampler's per-source keys, the synthetic world's per-set streams). Values are part of
// files on disk and of the data stream: never change them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mm {

// Offset basis of FNV-1a 64; also the hash of the empty string.
inline constexpr uint64_t kFnv1a64Basis = 0xcbf29ce484222325ULL;

// FNV-1a 64 of `bytes`, continuing from `seed` (the hash so far: fnv1a64(b, fnv1a64(a)) ==
// fnv1a64(a + b)). Offset basis 0xcbf29ce484222325, prime 0x100000001b3.
constexpr uint64_t fnv1a64(std::string_view bytes, uint64_t seed = kFnv1a64Basis) {
  uint64_t h = seed;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// `h` as 16 lowercase hex digits (leading zeros kept).
std::string hex64(uint64_t h);

// fnv1a64(bytes) as 16 lowercase hex digits.
inline std::string fnv1a64_hex(std::string_view bytes) { return hex64(fnv1a64(bytes)); }

}  // namespace mm
