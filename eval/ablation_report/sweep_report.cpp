// The sweep report's sections and files (sweep_report.h); charts: sweep_charts.cpp.
#include "eval/ablation_report/sweep_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "core/io.h"
#include "eval/ablation_report/fit_verify.h"
#include "eval/run_report/report_blocks.h"

namespace fs = std::filesystem;

namespace mm::eval::ablation {
namespace {

namespace rep = mm::eval::report;

std::string pct(double x) { return fmt::format("{:.1f}", 100 * x); }

std::string cell_text(const Cell& c) {
  if (c.summary.n == 0) return "-";
  std::string s = pct(c.summary.mean);
  if (c.summary.lo)
    s += fmt::format(" [{}, {}]", pct(*c.summary.lo), pct(*c.summary.hi));
  else if (c.wilson_lo)
    s += fmt::format(" [{}, {}]w", pct(*c.wilson_lo), pct(*c.wilson_hi));
  return s;
}

std::string diff_text(const Cell& c) {
  if (!c.diff) return "-";
  std::string s = fmt::format("{:+.1f}", 100 * *c.diff);
  if (c.p_holm) s += fmt::format(" (p={:.3g}){}", *c.p_holm, c.significant ? " *" : "");
  return s;
}

std::string short_key(
    const std::string& key) {  // "stages.sft.data.mixture.groups[text-only].weight" -> "text-only.weight"
  const auto dot = key.rfind('.');
  std::string last = dot == std::string::npos ? key : key.substr(dot + 1);
  if (dot != std::string::npos) {
    const std::string before = key.substr(0, dot);
    if (auto lb = before.rfind('['); lb != std::string::npos && before.back() == ']')
      return before.substr(lb + 1, before.size() - lb - 2) + "." + last;
  }
  return last;
}

rep::Table scores_table(const SweepResults& r) {
  rep::Table t;
  t.header = {"variant", "seeds"};
  for (const auto& k : r.axis_keys) t.header.push_back(short_key(k));
  for (const auto& m : r.metrics) t.header.push_back(m);
  t.right.assign(t.header.size(), true);
  t.right[0] = false;
  for (const auto& v : r.variants) {
    std::vector<rep::Cell> row = {rep::Cell(v + (v == r.baseline ? " (baseline)" : "")),
                                  rep::Cell(std::to_string(r.usable_runs(v).size()))};
    const auto axes = r.axes_of(v);
    for (const auto& k : r.axis_keys) row.emplace_back(axes.contains(k) ? value_text(axes[k]) : "");
    for (const auto& m : r.metrics) row.emplace_back(cell_text(r.cells.at(v).at(m)));
    t.rows.push_back(row);
  }
  return t;
}

rep::Table comparison_table(const SweepResults& r) {
  rep::Table t;
  t.header = {"variant"};
  for (const auto& m : r.metrics) t.header.push_back(m);
  t.right.assign(t.header.size(), true);
  t.right[0] = false;
  for (const auto& v : r.variants) {
    if (v == r.baseline) continue;
    std::vector<rep::Cell> row = {rep::Cell(v)};
    for (const auto& m : r.metrics) row.emplace_back(diff_text(r.cells.at(v).at(m)));
    t.rows.push_back(row);
  }
  return t;
}

rep::Table runs_table(const SweepResults& r, const std::string& out_dir) {
  rep::Table t;
  t.header = {"run", "variant", "seed", "status", "wall", "eval", "error"};
  t.right = {false, false, true, false, true, false, false};
  for (const auto& run : r.runs) {
    rep::Cell ev("");
    if (!run.eval_path.empty())
      ev.links.push_back({fs::path(run.eval_path).filename().string(), rep::rel_href(run.eval_path, out_dir)});
    else
      ev.text = run.status == "done" ? "missing" : "-";
    t.rows.push_back({rep::Cell(run.id), rep::Cell(run.variant), rep::Cell(std::to_string(run.seed)),
                      rep::Cell(run.status),
                      rep::Cell(run.wall_s && *run.wall_s > 0 ? rep::duration(*run.wall_s) : "-"), ev,
                      rep::Cell(rep::one_line(run.error, 160))});
  }
  return t;
}

std::string statistics_text(const SweepResults& r) {
  if (r.max_seeds <= 1)
    return "One seed per variant: there is no estimate of seed noise, so no difference is called significant. "
           "The intervals (marked w) are 95% Wilson intervals over the eval items: they show the noise of "
           "sampling the items, not the noise of training with another seed, which is usually larger.";
  return fmt::format(
      "Each cell: the mean over seeds and its 95% t-interval (Student t, n - 1 degrees of freedom; w: a Wilson "
      "interval over the eval items where a variant has one seed). Against the baseline: the difference in points, "
      "Welch's t-test p-value Holm-corrected over all {} variant x metric comparisons tested; * marks a corrected "
      "p < 0.05, a change larger than seed noise explains. A variant with one seed is not tested.",
      r.comparisons);
}

std::vector<rep::Block> report_blocks(const SweepResults& r, const std::string& out_dir,
                                      const std::vector<Chart>& axis_charts, const Chart* pareto,
                                      const std::pair<std::string, std::string>& pair, bool pair_default) {
  std::vector<rep::Block> b;
  b.push_back(rep::heading("Sweep report: " + r.name, 1));
  size_t done = 0, failed = 0, other = 0;
  for (const auto& run : r.runs) (run.usable() ? done : run.status == "failed" ? failed : other)++;
  std::string summary = fmt::format(
      "{} variant(s), {} run(s): {} with results, {} failed, {} pending, running or "
      "without an eval.",
      r.variants.size(), r.runs.size(), done, failed, other);
  if (!r.varying_stages.empty())
    summary += fmt::format(" The axes change stage(s) {}.", fmt::join(r.varying_stages, ", "));
  summary += r.baseline.empty() ? " No baseline variant: nothing is compared (--baseline NAME)."
                                : " Baseline: " + r.baseline + ".";
  if (r.train_s) summary += fmt::format(" Training took {}", rep::duration(*r.train_s));
  if (r.overhead_s) summary += fmt::format(", overhead {}", rep::duration(*r.overhead_s));
  if (r.train_s) summary += ".";
  b.push_back(rep::paragraph(summary));
  b.push_back(rep::heading("Scores per variant (%)", 2));
  b.push_back(rep::table_block(scores_table(r)));
  b.push_back(rep::paragraph(statistics_text(r), "note"));
  if (!r.baseline.empty()) {
    b.push_back(rep::heading("Against the baseline (points)", 2));
    b.push_back(rep::table_block(comparison_table(r)));
  }
  if (!axis_charts.empty()) {
    b.push_back(rep::heading("Score against the axes", 2));
    b.push_back(rep::charts_block(axis_charts));
    b.push_back(rep::paragraph("Dots: means over seeds; bars: their 95% intervals (as in the table).", "note"));
  }
  if (pareto) {
    b.push_back(rep::heading("Trade-off: " + pair.first + " vs " + pair.second, 2));
    b.push_back(rep::charts_block({*pareto}));
    b.push_back(rep::paragraph(
        fmt::format("Pareto frontier (no other variant is as good on both and better on one): {}.{}",
                    fmt::join(pareto_front(r, pair.first, pair.second), ", "),
                    pair_default ? " The pair shown is the most negatively correlated one over the variants "
                                   "(--pareto A,B picks another)."
                                 : ""),
        "note"));
  }
  b.push_back(rep::heading("Runs", 2));
  b.push_back(rep::table_block(runs_table(r, out_dir)));
  for (const auto& n : r.notes) b.push_back(rep::paragraph(n, "note"));
  b.push_back(rep::paragraph(
      "ratios.csv (run_id, name, one column per mixture group of the varying stage: its normalised weight) and "
      "metrics.csv (run_id, name, one column per category and MMBase) are in Olmix's input shape, joined on run_id.",
      "note"));
  return b;
}

}  // namespace

std::string scores_markdown(const SweepResults& r) {
  return rep::blocks_markdown({rep::table_block(scores_table(r)), rep::paragraph(statistics_text(r), "note")});
}

std::string comparison_markdown(const SweepResults& r) {
  if (r.baseline.empty()) return "";
  return rep::blocks_markdown({rep::table_block(comparison_table(r))});
}

WrittenSweepReport write_sweep_report(const SweepResults& r, const std::string& out_dir,
                                      const std::vector<std::string>& pareto) {
  WrittenSweepReport w;
  std::pair<std::string, std::string> pair;
  const bool pair_default = pareto.empty();
  if (!pareto.empty()) {
    MM_CHECK(pareto.size() == 2, "ablate report: --pareto expects two metrics A,B, got {}", fmt::join(pareto, ","));
    for (const auto& m : pareto)
      MM_CHECK(std::find(r.metrics.begin(), r.metrics.end(), m) != r.metrics.end(),
               "ablate report: --pareto '{}' is not a metric of this sweep (expected one of: {})", m,
               fmt::join(r.metrics, ", "));
    pair = {pareto[0], pareto[1]};
  } else {
    pair = default_pareto_pair(r);
  }
  const fs::path d(out_dir);
  fs::create_directories(d / "charts");
  std::vector<Chart> axis_charts;
  if (!r.usable_runs().empty()) {
    for (const auto& k : numeric_axes(r)) axis_charts.push_back(axis_chart(r, k));
    if (numeric_axes(r).size() < r.axis_keys.size() || r.axis_keys.empty())
      axis_charts.push_back(variants_bar_chart(r));
  }
  std::optional<Chart> pc;
  if (!pair.first.empty() && !r.usable_runs().empty()) pc = pareto_chart(r, pair.first, pair.second);
  w.pareto_a = pair.first, w.pareto_b = pair.second;
  std::vector<Chart> all = axis_charts;
  if (pc) all.push_back(*pc);
  for (const auto& c : all) {
    io::write_file_atomic((d / c.file).string(), c.svg);
    w.charts.push_back((d / c.file).string());
  }
  auto blocks = report_blocks(r, out_dir, axis_charts, pc ? &*pc : nullptr, pair, pair_default);
  if (const auto verified = load_verify_check(r)) {  // `ablate fit` then `ablate verify` ran
    const auto vb = verify_blocks(*verified);
    blocks.insert(blocks.end(), vb.begin(), vb.end());
  }
  w.markdown = (d / "report.md").string(), w.html = (d / "report.html").string();
  w.ratios = (d / "ratios.csv").string(), w.metrics = (d / "metrics.csv").string();
  io::write_file_atomic(w.markdown, rep::blocks_markdown(blocks));
  io::write_file_atomic(w.html, rep::blocks_html("Sweep report: " + r.name, blocks));
  io::write_file_atomic(w.ratios, ratios_csv(r));
  io::write_file_atomic(w.metrics, metrics_csv(r));
  return w;
}

}  // namespace mm::eval::ablation
