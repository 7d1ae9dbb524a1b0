// Progress-line formatting.
#include "trainers/metrics/progress.h"

#include <fmt/format.h>

#include <cmath>

namespace mm::train {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02d}h", s / 86400, (s % 86400) / 3600);
}

std::string format_count(double v) {
  if (!std::isfinite(v)) return "--";
  const double a = std::abs(v);
  auto sig3 = [](double x, const char* unit) {
    const int decimals = x >= 100 ? 0 : x >= 10 ? 1 : 2;
    return fmt::format("{:.{}f}{}", x, decimals, unit);
  };
  if (a < 1000) return fmt::format("{:.0f}", v);
  if (a < 999.5e3) return sig3(v / 1e3, "k");
  if (a < 999.5e6) return sig3(v / 1e6, "M");
  return sig3(v / 1e9, "G");
}

double eta_seconds(int64_t step, int64_t total_steps, double sec_per_step) {
  if (total_steps <= 0 || step >= total_steps || !(sec_per_step > 0)) return 0.0;
  return static_cast<double>(total_steps - step) * sec_per_step;
}

std::string format_progress(const ProgressInfo& p) {
  std::string out = fmt::format("[{}] step {}", p.stage, p.step);
  if (p.total_steps > 0) out += fmt::format("/{} ({:.1f}%)", p.total_steps, 100.0 * p.step / p.total_steps);
  out += fmt::format(" | loss {:.4f} | lr {:.2e} | {} tok/s | data wait {:.1f}%", p.loss, p.lr,
                     format_count(p.tokens_per_s), 100.0 * p.data_wait_frac);
  if (p.total_steps > 0) out += " | ETA " + format_duration(eta_seconds(p.step, p.total_steps, p.sec_per_step));
  return out;
}

}  // namespace mm::train
