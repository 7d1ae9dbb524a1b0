// FNV-1a 64 (core/hash.h): the published test vectors, chaining through the seed, hex form.
#include <catch2/catch.hpp>

#include <string>

#include "core/hash.h"

using mm::fnv1a64;

TEST_CASE("FNV-1a 64 known values", "[core][hash]") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ULL);
  static_assert(fnv1a64("a") == 0xaf63dc4c8601ec8cULL, "usable in constant expressions");
}

TEST_CASE("FNV-1a 64 matches the published test vectors in hex", "[core][hash]") {
  CHECK(mm::fnv1a64_hex("") == "cbf29ce484222325");
  CHECK(mm::fnv1a64_hex("a") == "af63dc4c8601ec8c");
  CHECK(mm::fnv1a64_hex("foobar") == "85944171f73967e8");
  CHECK(mm::hex64(0x1f) == "000000000000001f");
}

TEST_CASE("FNV-1a 64 continues from a seed and hashes every byte", "[core][hash]") {
  CHECK(fnv1a64("bar", fnv1a64("foo")) == fnv1a64("foobar"));
  const std::string with_nul("a\0b", 3);
  CHECK(fnv1a64(with_nul) != fnv1a64("ab"));
  CHECK(fnv1a64("\xff") == ((0xcbf29ce484222325ULL ^ 0xffULL) * 0x100000001b3ULL));  // bytes are unsigned
}
