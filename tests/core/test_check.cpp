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

TEST_CASE("without_location: the line a user reads, without MM_CHECK's source location", "[core]") {
  try {
    MM_CHECK(false, "config.yaml: key 'x': expected an integer");
    FAIL("MM_CHECK did not throw");
  } catch (const mm::Error& e) {
    CHECK(mm::without_location(e.what()) == "config.yaml: key 'x': expected an integer");
  }
  // Messages that do not start with a source location are left alone, colons and all.
  CHECK(mm::without_location("runs/x/config.yaml:12: bad value") == "runs/x/config.yaml:12: bad value");
  CHECK(mm::without_location("a.cpp:12 missing space") == "a.cpp:12 missing space");
  CHECK(mm::without_location("src/a.h:7: msg") == "msg");
  CHECK(mm::without_location("plain") == "plain");
}
