#include <catch2/catch.hpp>

#include "core/check.h"

TEST_CASE("MM_CHECK throws mm::Error with file:line and the message", "[core]") {
  try {
    MM_CHECK(1 + 1 == 3, "expected {} got {}", 3, 2);
    FAIL("MM_CHECK did not throw");
  } catch (const mm::Error& e) {
    std::string what = e.what();
    REQUIRE(what.find("tests/core/test_check.cpp:") == 0);
    REQUIRE(what.find("expected 3 got 2") != std::string::npos);
  }
  REQUIRE_NOTHROW([] { MM_CHECK(true, "never"); }());
}
