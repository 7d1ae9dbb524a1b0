// Stopwatch and seconds_since (core/timer.h).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "core/timer.h"

TEST_CASE("Stopwatch measures elapsed seconds and restarts", "[core][timer]") {
  mm::Stopwatch w;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double first = w.seconds();
  CHECK(first >= 0.019);
  CHECK(first < 10);
  CHECK(mm::seconds_since(w.start()) >= first);
  const double lap = w.restart();
  CHECK(lap >= first);
  CHECK(w.seconds() < lap);
}
