// The fitted mixture's predictions against the verify runs (fit_verify.h).
#include "eval/ablation_report/fit_verify.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "core/check.h"
#include "core/io.h"
#include "eval/run_report/report_blocks.h"

namespace mm::eval::ablation {
namespace fs = std::filesystem;

std::optional<VerifyCheck> load_verify_check(const SweepResults& r) {
  const fs::path file = fs::path(r.dir) / "fit.json";
  const auto runs = r.usable_runs(kVerifyVariant);
  if (!fs::is_regular_file(file) || runs.empty()) return std::nullopt;
  nlohmann::json fit;
  try {
    fit = nlohmann::json::parse(io::read_file(file.string()));
  } catch (const std::exception&) {
    throw mm::Error(
        fmt::format("ablate: {}: not JSON (write it again with `mmtrain ablate fit {}`)", file.string(), r.dir));
  }
  MM_CHECK(fit.is_object() && fit.contains("weights") && fit["weights"].is_object() && fit.contains("predicted") &&
               fit["predicted"].is_object(),
           "ablate: {}: expected \"weights\" and \"predicted\" objects (as `mmtrain ablate fit` writes)",
           file.string());
  VerifyCheck c;
  c.objective = fit.value("objective", "");
  c.seeds = static_cast<int>(runs.size());
  // The verify runs must have trained fit.json's weights (what fit.json predicts for).
  for (const auto& [key, w] : fit["weights"].items()) {
    const auto& axes = runs.front()->axes;
    const auto it = axes.find(key);
    const bool same = it != axes.end() && it->is_number() && w.is_number() &&
                      std::abs(it->get<double>() - w.get<double>()) <= 1e-9 * std::max(1.0, std::abs(w.get<double>()));
    if (!same) {
      c.mismatch = fmt::format(
          "The verify runs trained {} = {}, fit.json's weight is {}: they are not the fitted mixture, so fit.json's "
          "predictions are not compared with them (`mmtrain ablate verify {}` without --set trains fit.json's "
          "weights).",
          key, it == axes.end() ? std::string("(not an axis)") : it->dump(), w.dump(), r.dir);
      return c;
    }
  }
  for (const auto& m : r.metrics) {
    if (!fit["predicted"].contains(m)) continue;
    const auto& p = fit["predicted"][m];
    VerifyRow row;
    row.metric = m;
    row.predicted = {p.at("mean").get<double>(), p.at("lo").get<double>(), p.at("hi").get<double>()};
    for (const SweepRun* run : runs) {
      const auto s = run->scores.find(m);
      if (s == run->scores.end()) continue;
      row.measured.push_back(s->second);
      row.inside += s->second >= row.predicted.lo && s->second <= row.predicted.hi;
    }
    if (row.measured.empty()) continue;
    for (double v : row.measured) row.mean += v / static_cast<double>(row.measured.size());
    c.rows.push_back(row);
  }
  return c;
}

std::vector<report::Block> verify_blocks(const VerifyCheck& c) {
  namespace rep = mm::eval::report;
  if (!c.mismatch.empty())
    return {rep::heading("The fitted mixture: predicted against measured", 2), rep::paragraph(c.mismatch, "note")};
  auto pct = [](double x) { return fmt::format("{:.1f}", 100 * x); };
  rep::Table t;
  t.header = {"metric", "predicted [95% interval for one run]", "measured: mean (per seed)", "seeds inside"};
  t.right = {false, true, true, true};
  for (const auto& row : c.rows) {
    std::vector<std::string> seeds;
    for (double v : row.measured) seeds.push_back(pct(v));
    t.rows.push_back(
        {rep::Cell(row.metric + (row.metric == c.objective ? " (objective)" : "")),
         rep::Cell(fmt::format("{} [{}, {}]", pct(row.predicted.mean), pct(row.predicted.lo), pct(row.predicted.hi))),
         rep::Cell(fmt::format("{} ({})", pct(row.mean), fmt::join(seeds, " / "))),
         rep::Cell(fmt::format("{} of {}", row.inside, row.measured.size()))});
  }
  return {rep::heading("The fitted mixture: predicted against measured (%)", 2), rep::table_block(t),
          rep::paragraph(fmt::format("fit.json's weights ({} objective), trained as the variant `verify` with {} "
                                     "seed(s); seeds inside: the seeds whose score lies in the predicted interval.",
                                     c.objective, c.seeds),
                         "note")};
}

std::string verify_markdown(const VerifyCheck& c) { return report::blocks_markdown(verify_blocks(c)); }

}  // namespace mm::eval::ablation
