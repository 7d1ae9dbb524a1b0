// The statistics of a sweep (sweep_results.h: compute_cells): per variant x metric the mean over
// seeds and its 95% t-interval (one seed: the Wilson interval over the eval items), the difference
// against the baseline with Welch's t-test, and Holm's correction over every comparison tested.
#include <algorithm>
#include <set>

#include "eval/ablation_report/sweep_results.h"
#include "eval/eval_item.h"
#include "eval/run_report/run_report.h"  // wilson_interval

namespace mm::eval::ablation {

void compute_cells(SweepResults* r) {
  constexpr Category kOrder[] = {Category::kGeneral,     Category::kTextRich,   Category::kKnowledge,
                                 Category::kReferGround, Category::kMultiImage, Category::kTextOnly};
  std::set<std::string> seen;
  bool mmbase = false;
  for (const SweepRun* run : r->usable_runs())
    for (const auto& [m, v] : run->scores) {
      mmbase |= m == kMMBase;
      seen.insert(m);
    }
  seen.erase(kMMBase);
  r->metrics.clear();
  for (Category c : kOrder)
    if (seen.erase(category_name(c))) r->metrics.push_back(category_name(c));
  for (const auto& m : seen) r->metrics.push_back(m);  // categories of another name, alphabetically
  if (mmbase) r->metrics.push_back(kMMBase);

  r->mixture_groups.clear();
  for (const auto& run : r->runs)
    for (const auto& [g, w] : run.mixture)
      if (std::find(r->mixture_groups.begin(), r->mixture_groups.end(), g) == r->mixture_groups.end())
        r->mixture_groups.push_back(g);

  r->cells.clear();
  r->max_seeds = 0;
  for (const auto& v : r->variants) {
    r->max_seeds = std::max(r->max_seeds, static_cast<int>(r->usable_runs(v).size()));
    for (const auto& m : r->metrics) {
      Cell& c = r->cells[v][m];
      c.summary = stats::summarize(r->values(v, m));
      if (c.summary.n == 1) {
        const SweepRun* run = r->usable_runs(v).front();
        if (auto it = run->items.find(m); it != run->items.end() && it->second > 0) {
          const Interval w = wilson_interval(c.summary.mean, it->second);
          c.wilson_lo = w.lo, c.wilson_hi = w.hi;
        }
      }
    }
  }

  // Against the baseline: every (variant, metric) with results on both sides; Welch where both have
  // seed noise; Holm over all that were tested.
  r->comparisons = 0;
  if (r->baseline.empty() || !r->cells.count(r->baseline)) return;
  std::vector<std::pair<Cell*, double>> tested;
  for (const auto& v : r->variants) {
    if (v == r->baseline) continue;
    for (const auto& m : r->metrics) {
      Cell& c = r->cells[v][m];
      const Cell& b = r->cells[r->baseline][m];
      if (c.summary.n == 0 || b.summary.n == 0) continue;
      c.diff = c.summary.mean - b.summary.mean;
      c.test = stats::welch(r->values(v, m), r->values(r->baseline, m));
      if (c.test) tested.emplace_back(&c, c.test->p);
    }
  }
  std::vector<double> p;
  for (const auto& t : tested) p.push_back(t.second);
  const std::vector<double> adj = stats::holm(p);
  for (size_t i = 0; i < tested.size(); ++i) {
    tested[i].first->p_holm = adj[i];
    tested[i].first->significant = adj[i] < 0.05;
  }
  r->comparisons = tested.size();
}

}  // namespace mm::eval::ablation
