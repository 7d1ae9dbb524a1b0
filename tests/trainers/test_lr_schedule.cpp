// lr_at() at its key points: warmup start/end, mid-decay, the end, past the end.
#include <catch2/catch.hpp>
#include <cmath>

#include "core/check.h"
#include "trainers/lr_schedule.h"

using mm::train::lr_at;

TEST_CASE("cosine schedule with warmup", "[trainers][schedule]") {
  mm::ScheduleConfig c;
  c.kind = "cosine";
  c.warmup_steps = 10;
  c.total_steps = 110;
  c.min_lr_ratio = 0.1;
  const double peak = 2e-3;
  CHECK(lr_at(c, peak, 0) == Approx(peak * 1 / 10));
  CHECK(lr_at(c, peak, 4) == Approx(peak * 5 / 10));
  CHECK(lr_at(c, peak, 9) == Approx(peak));
  CHECK(lr_at(c, peak, 10) == Approx(peak));                      // decay starts at the peak
  CHECK(lr_at(c, peak, 60) == Approx(peak * (0.1 + 0.9 * 0.5)));  // half way: mean of peak and floor
  CHECK(lr_at(c, peak, 35) == Approx(peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25)))));
  CHECK(lr_at(c, peak, 110) == Approx(peak * 0.1));
  CHECK(lr_at(c, peak, 500) == Approx(peak * 0.1));
  for (int s = 11; s < 110; ++s) CHECK(lr_at(c, peak, s) < lr_at(c, peak, s - 1));
  c.min_lr_ratio = 0.0;  // cosine to 0
  CHECK(lr_at(c, peak, 110) == Approx(0.0).margin(1e-15));
}

TEST_CASE("linear and constant schedules", "[trainers][schedule]") {
  mm::ScheduleConfig c;
  c.warmup_steps = 0;
  c.total_steps = 100;
  c.min_lr_ratio = 0.0;
  c.kind = "linear";
  CHECK(lr_at(c, 1.0, 0) == Approx(1.0));
  CHECK(lr_at(c, 1.0, 25) == Approx(0.75));
  CHECK(lr_at(c, 1.0, 100) == Approx(0.0).margin(1e-15));
  c.kind = "constant";
  c.warmup_steps = 4;
  CHECK(lr_at(c, 1.0, 1) == Approx(0.5));
  CHECK(lr_at(c, 1.0, 4) == Approx(1.0));
  CHECK(lr_at(c, 1.0, 1000) == Approx(1.0));
  c.kind = "step";
  CHECK_THROWS_WITH(lr_at(c, 1.0, 5), Catch::Contains("cosine, constant, linear"));
  c.kind = "linear";
  c.warmup_steps = 200;
  CHECK_THROWS_AS(lr_at(c, 1.0, 5), mm::Error);
}
