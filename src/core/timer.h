// Elapsed wall-clock time on the steady clock (immune to clock changes): the one timer of the
// project, for logs, progress lines, throughput and data-wait measurements.
#pragma once
#include <chrono>

namespace mm {

using SteadyClock = std::chrono::steady_clock;

// Seconds from `t0` (an earlier SteadyClock::now()) to now.
inline double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// Measures from construction or the last restart().
class Stopwatch {
 public:
  Stopwatch() : start_(SteadyClock::now()) {}
  double seconds() const { return seconds_since(start_); }  // elapsed so far
  double restart() {                                        // the elapsed seconds, and starts again from now
    const SteadyClock::time_point now = SteadyClock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return s;
  }
  SteadyClock::time_point start() const { return start_; }

 private:
  SteadyClock::time_point start_;
};

}  // namespace mm
