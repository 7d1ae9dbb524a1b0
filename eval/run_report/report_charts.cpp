// The report's charts (run_report.h) from a RunSummary: every x axis is the global optimizer step,
// the stages one after the other (stage_offsets), their boundaries marked.
#include <fmt/format.h>

#include <cctype>
#include <map>

#include "eval/run_report/report_blocks.h"
#include "eval/run_report/svg_chart.h"

namespace mm::eval {
namespace {

constexpr const char* kGlobalStep = "global optimizer step (the stages one after the other)";

std::vector<svg::StageSpan> spans(const RunSummary& run) {
  std::vector<svg::StageSpan> out;
  const auto off = stage_offsets(run);
  for (size_t i = 0; i < run.stages.size(); ++i)
    out.push_back({run.stages[i].name, static_cast<double>(off[i]), static_cast<double>(off[i] + run.stages[i].steps),
                   static_cast<int>(i)});
  return out;
}

std::vector<std::pair<double, double>> shifted(const Series& s, int64_t offset) {
  std::vector<std::pair<double, double>> out;
  for (const auto& [step, v] : s) out.emplace_back(static_cast<double>(offset + step), v);
  return out;
}

// A file name from a category or benchmark name: [a-z0-9_-], others as '_'.
std::string file_part(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return out;
}

// One line per stage of a per-record quantity (learning rate, gradient norm, tokens/s).
Chart per_stage_chart(const RunSummary& run, const std::string& file, const std::string& title,
                      const std::string& y_label, Series StageRun::*field) {
  svg::LineChart c;
  c.title = title, c.x_label = kGlobalStep, c.y_label = y_label, c.legend = false, c.y_floor = 0;
  c.width = 400, c.height = 260;
  c.stages = spans(run);
  const auto off = stage_offsets(run);
  for (size_t i = 0; i < run.stages.size(); ++i)
    c.series.push_back({run.stages[i].name, shifted(run.stages[i].*field, off[i]), static_cast<int>(i)});
  return {file, svg::line_chart(c)};
}

}  // namespace

std::vector<int64_t> stage_offsets(const RunSummary& run) {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const auto& s : run.stages) out.push_back(offset), offset += s.steps;
  return out;
}

std::string loss_svg(const RunSummary& run) {
  std::vector<svg::LossStage> stages;
  const auto off = stage_offsets(run);
  for (size_t i = 0; i < run.stages.size(); ++i) {
    const auto& s = run.stages[i];
    stages.push_back(
        {s.name, static_cast<double>(off[i]), static_cast<double>(off[i] + s.steps), shifted(s.loss, off[i])});
  }
  return svg::loss_chart(stages);
}

std::string scores_svg(const RunSummary& run) {
  svg::BarChart chart;
  chart.title = "category scores: each stage's last evaluation";
  chart.groups = report::categories_of(run);
  for (const auto& [name, e] : report::score_rows(run)) {
    chart.series.push_back(name);
    std::vector<std::optional<double>> values;
    for (const auto& c : chart.groups) values.push_back(e ? score_of(e->categories, c) : std::nullopt);
    chart.values.push_back(values);
  }
  for (const auto& c : chart.groups) chart.reference.push_back(score_of(run.chance.categories, c));
  return svg::bar_chart(chart);
}

std::vector<Chart> scores_over_steps_svgs(const RunSummary& run) {
  std::vector<std::string> keys = report::categories_of(run);
  keys.push_back("MMBase");
  const auto off = stage_offsets(run);
  std::vector<Chart> out;
  for (const auto& key : keys) {
    auto value = [&](const StageEval& e) { return key == "MMBase" ? e.mmbase : score_of(e.categories, key); };
    svg::LineChart c;
    c.title = key + ": score at each evaluation";
    c.x_label = "global optimizer step", c.y_label = "score (%)";
    c.y_scale = 100, c.y_suffix = "%", c.y_floor = 0, c.legend = false, c.width = 380, c.height = 250;
    c.stages = spans(run);
    svg::LineSeries s{key, {}, 0, /*markers=*/true};
    if (run.init)
      if (auto v = value(*run.init)) s.points.emplace_back(0, *v);
    for (size_t i = 0; i < run.stages.size(); ++i)
      for (const auto& e : run.stages[i].evals)
        if (auto v = value(e)) s.points.emplace_back(static_cast<double>(off[i] + e.step), *v);
    c.series.push_back(s);
    const auto chance = key == "MMBase" ? run.chance.mmbase : score_of(run.chance.categories, key);
    if (chance) {
      const double end = off.empty() ? 1.0 : static_cast<double>(off.back() + run.stages.back().steps);
      c.series.push_back({"chance", {{0.0, *chance}, {end, *chance}}, 9, false, /*dashed=*/true});
    }
    out.push_back({"charts/scores_" + file_part(key) + ".svg", svg::line_chart(c)});
  }
  return out;
}

Chart loss_by_source_svg(const RunSummary& run) {
  svg::LineChart c;
  c.title = "training loss per source (the samples of each source in each logged interval)";
  c.x_label = kGlobalStep, c.y_label = "training loss", c.width = 1000, c.height = 380;
  c.stages = spans(run);
  const auto off = stage_offsets(run);
  std::map<std::string, std::vector<std::pair<double, double>>> by_source;  // a source may span stages
  std::vector<std::string> order;
  for (size_t i = 0; i < run.stages.size(); ++i)
    for (const auto& [src, series] : run.stages[i].loss_by_source) {
      if (!by_source.count(src)) order.push_back(src);
      for (const auto& p : shifted(series, off[i])) by_source[src].push_back(p);
    }
  for (size_t i = 0; i < order.size(); ++i)  // past the palette's 10 colours, dashed lines
    c.series.push_back({order[i], by_source[order[i]], -1, false, (i / 10) % 2 == 1});
  return {"charts/loss_by_source.svg", svg::line_chart(c)};
}

std::vector<Chart> training_svgs(const RunSummary& run) {
  return {per_stage_chart(run, "charts/learning_rate.svg", "learning rate", "learning rate", &StageRun::lr),
          per_stage_chart(run, "charts/grad_norm.svg", "gradient norm (before clipping)", "gradient norm",
                          &StageRun::grad_norm),
          per_stage_chart(run, "charts/tokens_per_s.svg", "throughput", "tokens / s", &StageRun::tokens_per_s)};
}

std::vector<Chart> perplexity_svgs(const RunSummary& run) {
  const auto off = stage_offsets(run);
  std::vector<Chart> out;
  std::map<std::string, std::vector<std::pair<double, double>>> ppl;
  auto add = [&](const StageEval& e, int64_t offset) {
    for (const auto& [name, b] : e.benchmarks.items())
      if (b.is_object() && b.value("metric", "") == "perplexity" && b.contains("score") && b["score"].is_number())
        ppl[name].emplace_back(static_cast<double>(offset + e.step), b["score"].get<double>());
  };
  if (run.init) add(*run.init, 0);
  for (size_t i = 0; i < run.stages.size(); ++i)
    for (const auto& e : run.stages[i].evals) add(e, off[i]);
  if (!ppl.empty()) {
    svg::LineChart c;
    c.title = "text perplexity at each evaluation";
    c.x_label = kGlobalStep, c.y_label = "perplexity", c.width = 560, c.height = 280, c.y_floor = 0;
    c.stages = spans(run);
    for (const auto& [name, pts] : ppl) c.series.push_back({name, pts, -1, /*markers=*/true});
    out.push_back({"charts/perplexity.svg", svg::line_chart(c)});
  }
  std::map<std::string, std::vector<std::pair<double, double>>> heldout;
  for (size_t i = 0; i < run.stages.size(); ++i)
    for (const auto& [src, series] : run.stages[i].heldout_loss)
      for (const auto& p : shifted(series, off[i])) heldout[src].push_back(p);
  if (!heldout.empty()) {
    svg::LineChart c;
    c.title = "held-out loss per source";
    c.x_label = kGlobalStep, c.y_label = "held-out loss", c.width = 560, c.height = 280;
    c.stages = spans(run);
    for (const auto& [src, pts] : heldout) c.series.push_back({src, pts, -1, /*markers=*/true});
    out.push_back({"charts/heldout_loss.svg", svg::line_chart(c)});
  }
  return out;
}

}  // namespace mm::eval
