// Counter-based randomness for the data pipeline: a splitmix64 hash of (seed, stream, index) so
// draw i is a pure function (shardable, resumable), a small sequential generator built on it,
// and a bijective shuffle of [0, n) (Feistel network with cycle walking) that needs no memory.
#pragma once
#include <cstdint>

namespace mm::data {

// splitmix64 finaliser: a high-quality 64-bit mix.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Hash of a (seed, stream, index) triple: the counter-based RNG.
inline uint64_t hash3(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(mix64(seed) ^ stream) ^ index);
}

// Uniform double in [0, 1) from 53 random bits.
inline double to_unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// Sequential generator seeded from a hash; the same on every platform (no std distributions).
class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t stream, uint64_t index = 0) : key_(hash3(seed, stream, index)) {}
  uint64_t next_u64() { return mix64(key_ + 0x632be59bd9b4e019ULL * ++count_); }
  double uniform() { return to_unit(next_u64()); }
  // Uniform integer in [0, n) (n > 0), unbiased by rejection.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return x % n;
  }
  // Uniform integer in [lo, hi] inclusive.
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1))); }
  bool chance(double p) { return uniform() < p; }
  template <class C>
  const auto& pick(const C& c) {
    return c[below(c.size())];
  }

 private:
  uint64_t key_;
  uint64_t count_ = 0;
};

// A pseudo-random permutation of [0, n) keyed by `key`: at(i) is a bijection, computed in O(1)
// expected time and no memory (4-round Feistel over the next power of four, cycle walking).
class FeistelPermutation {
 public:
  FeistelPermutation(uint64_t n, uint64_t key) : n_(n), key_(key) {
    half_bits_ = 1;
    while ((uint64_t{1} << (2 * half_bits_)) < n_) ++half_bits_;
    mask_ = (uint64_t{1} << half_bits_) - 1;
  }
  uint64_t size() const { return n_; }
  uint64_t at(uint64_t i) const {
    uint64_t x = i;
    do x = encrypt(x);
    while (x >= n_);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_, right = x & mask_;
    for (uint64_t round = 0; round < 4; ++round) {
      const uint64_t f = hash3(key_, round, right) & mask_;
      const uint64_t next = left ^ f;
      left = right;
      right = next;
    }
    return (left << half_bits_) | right;
  }
  uint64_t n_, key_, mask_;
  int half_bits_;
};

}  // namespace mm::data
