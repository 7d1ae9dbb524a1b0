// The report's sections on scores (report_blocks.h): per category and stage, every evaluation over
// the global step, per benchmark with the 95% Wilson interval, text perplexity and held-out loss,
// and the example predictions with their images; and the small helpers every section uses.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "eval/eval_item.h"
#include "eval/run_report/report_blocks.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::eval {

Interval wilson_interval(double p, int64_t n, double z) {
  if (n <= 0 || !std::isfinite(p)) return {};
  p = std::clamp(p, 0.0, 1.0);
  const double nn = static_cast<double>(n), z2 = z * z, denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

namespace report {

Block heading(std::string text, int level) {
  Block b;
  b.kind = Block::kHeading, b.text = std::move(text), b.level = level;
  return b;
}
Block paragraph(std::string text, std::string css_class) {
  Block b;
  b.kind = Block::kParagraph, b.text = std::move(text), b.css_class = std::move(css_class);
  return b;
}
Block table_block(Table t) {
  Block b;
  b.kind = Block::kTable, b.table = std::move(t);
  return b;
}
Block code_block(std::string text) {
  Block b;
  b.kind = Block::kCode, b.text = std::move(text);
  return b;
}
Block charts_block(std::vector<Chart> charts) {
  Block b;
  b.kind = Block::kCharts, b.charts = std::move(charts);
  return b;
}

std::string percent(const std::optional<double>& x) {
  return x && std::isfinite(*x) ? fmt::format("{:.1f}", 100.0 * *x) : "-";
}

std::string one_line(std::string s, size_t max_chars) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

std::string rel_href(const std::string& target, const std::string& from_dir) {
  std::error_code ec;
  const fs::path t = fs::weakly_canonical(fs::absolute(target), ec);
  const fs::path f = fs::weakly_canonical(fs::absolute(from_dir.empty() ? "." : from_dir), ec);
  fs::path rel = t.lexically_relative(f);
  if (rel.empty()) rel = t;
  std::string out;
  for (unsigned char c : rel.generic_string()) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out.empty() ? "." : out;
}

std::string duration(double s) {
  const auto t = static_cast<int64_t>(std::llround(std::max(0.0, s)));
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, static_cast<int>(t % 3600 / 60));
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, static_cast<int>(t % 60));
  return fmt::format("{}s", t);
}

std::string utc_time(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

constexpr Category kAllCategories[] = {Category::kGeneral,     Category::kTextRich,   Category::kKnowledge,
                                       Category::kReferGround, Category::kMultiImage, Category::kTextOnly};

std::vector<std::string> categories_of(const RunSummary& run) {
  std::vector<std::string> out;
  for (Category c : kAllCategories) {
    const std::string name = category_name(c);
    bool any = run.chance.categories.count(name) || (run.init && run.init->categories.count(name));
    for (const auto& s : run.stages)
      for (const auto& e : s.evals) any |= e.categories.count(name) > 0;
    for (const auto& s : run.stages) any |= s.eval && s.eval->categories.count(name);
    if (any) out.push_back(name);
  }
  return out;
}

std::vector<std::pair<std::string, const StageEval*>> score_rows(const RunSummary& run) {
  std::vector<std::pair<std::string, const StageEval*>> rows;
  if (run.init) rows.emplace_back("init", &*run.init);
  for (const auto& s : run.stages) rows.emplace_back(s.name, s.eval ? &*s.eval : nullptr);
  return rows;
}

std::pair<const StageEval*, std::string> final_eval(const RunSummary& run) {
  std::pair<const StageEval*, std::string> out = {run.init ? &*run.init : nullptr, "init"};
  for (const auto& s : run.stages)
    if (s.eval) out = {&*s.eval, s.name};
  return out;
}

Table scores_table(const RunSummary& run) {
  const auto cats = categories_of(run);
  Table t;
  t.header = {"stage", "eval step"};
  t.header.insert(t.header.end(), cats.begin(), cats.end());
  t.header.push_back("MMBase");
  t.right.assign(t.header.size(), true);
  t.right[0] = false;
  for (const auto& [name, e] : score_rows(run)) {
    std::vector<Cell> row = {name, e ? std::to_string(e->step) : "-"};
    for (const auto& c : cats) row.emplace_back(e ? percent(score_of(e->categories, c)) : "-");
    row.emplace_back(e ? percent(e->mmbase) : "-");
    t.rows.push_back(row);
  }
  std::vector<Cell> row = {"chance", ""};
  for (const auto& c : cats) row.emplace_back(percent(score_of(run.chance.categories, c)));
  row.emplace_back(percent(run.chance.mmbase));
  t.rows.push_back(row);
  return t;
}

Table training_table(const RunSummary& run) {
  Table t;
  t.header = {"stage", "steps", "first loss", "last loss", "tokens seen"};
  t.right = {false, true, true, true, true};
  for (const auto& s : run.stages) {
    auto loss = [&](bool first) -> std::string {
      if (s.loss.empty()) return "-";
      return fmt::format("{:.4f}", first ? s.loss.front().second : s.loss.back().second);
    };
    t.rows.push_back(
        {s.name, std::to_string(s.steps), loss(true), loss(false), s.tokens ? std::to_string(*s.tokens) : "-"});
  }
  return t;
}

Table scores_over_steps_table(const RunSummary& run) {
  const auto cats = categories_of(run);
  const auto offsets = stage_offsets(run);
  Table t;
  t.header = {"stage", "step", "global step"};
  t.header.insert(t.header.end(), cats.begin(), cats.end());
  t.header.push_back("MMBase");
  t.right.assign(t.header.size(), true);
  t.right[0] = false;
  auto add = [&](const std::string& name, const StageEval& e, int64_t offset) {
    std::vector<Cell> row = {name, std::to_string(e.step), std::to_string(offset + e.step)};
    for (const auto& c : cats) row.emplace_back(percent(score_of(e.categories, c)));
    row.emplace_back(percent(e.mmbase));
    t.rows.push_back(row);
  };
  if (run.init) add("init", *run.init, 0);
  for (size_t i = 0; i < run.stages.size(); ++i)
    for (const auto& e : run.stages[i].evals) add(run.stages[i].name, e, offsets[i]);
  return t;
}

Table benchmarks_table(const StageEval& e) {
  Table t;
  t.header = {"benchmark", "category", "metric", "items", "score (%)", "95% interval (%)", "chance (%)"};
  t.right = {false, false, false, true, true, true, true};
  std::vector<std::pair<int, std::string>> order;  // canonical category order, then name
  for (const auto& [name, b] : e.benchmarks.items()) {
    int rank = 99;
    for (size_t i = 0; i < std::size(kAllCategories); ++i)
      if (b.value("category", "") == category_name(kAllCategories[i])) rank = static_cast<int>(i);
    order.emplace_back(rank, name);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [rank, name] : order) {
    const json& b = e.benchmarks[name];
    if (!b.is_object() || !b.contains("score") || !b["score"].is_number()) continue;
    const double score = b["score"].get<double>();
    const int64_t n = b.contains("n") && b["n"].is_number() ? b["n"].get<int64_t>() : 0;
    const bool ppl = b.value("metric", "") == "perplexity";
    std::string interval = "-";
    if (!ppl && n > 0) {
      const Interval ci = wilson_interval(score, n);
      interval = fmt::format("[{:.1f}, {:.1f}]", 100 * ci.lo, 100 * ci.hi);
    }
    const std::optional<double> chance = b.contains("chance") && b["chance"].is_number()
                                             ? std::optional<double>(b["chance"].get<double>())
                                             : std::nullopt;
    t.rows.push_back({name, b.value("category", ""), b.value("metric", ""), n > 0 ? std::to_string(n) : "-",
                      ppl ? fmt::format("{:.3f} (perplexity)", score) : percent(score), interval, percent(chance)});
  }
  return t;
}

std::vector<Block> perplexity_blocks(const Context& ctx) {
  const RunSummary& run = ctx.run;
  const auto offsets = stage_offsets(run);
  std::vector<Block> out;
  // Perplexity benchmarks of every evaluation.
  std::set<std::string> names;
  auto ppl_of = [](const StageEval& e) {
    std::map<std::string, double> m;
    for (const auto& [name, b] : e.benchmarks.items())
      if (b.is_object() && b.value("metric", "") == "perplexity" && b.contains("score") && b["score"].is_number())
        m[name] = b["score"].get<double>();
    return m;
  };
  std::vector<std::tuple<std::string, const StageEval*, int64_t>> evals;
  if (run.init) evals.emplace_back("init", &*run.init, 0);
  for (size_t i = 0; i < run.stages.size(); ++i)
    for (const auto& e : run.stages[i].evals) evals.emplace_back(run.stages[i].name, &e, offsets[i]);
  for (const auto& [name, e, off] : evals)
    for (const auto& [b, v] : ppl_of(*e)) names.insert(b);
  if (names.empty()) {
    out.push_back(paragraph("No evaluation holds a perplexity benchmark (metric perplexity): not recorded."));
  } else {
    Table t;
    t.header = {"stage", "step", "global step"};
    t.header.insert(t.header.end(), names.begin(), names.end());
    t.right.assign(t.header.size(), true);
    t.right[0] = false;
    for (const auto& [stage, e, off] : evals) {
      const auto m = ppl_of(*e);
      if (m.empty()) continue;  // an eval record of metrics.jsonl: categories only
      std::vector<Cell> row = {stage, std::to_string(e->step), std::to_string(off + e->step)};
      for (const auto& n : names) row.emplace_back(m.count(n) ? fmt::format("{:.3f}", m.at(n)) : "-");
      t.rows.push_back(row);
    }
    out.push_back(table_block(std::move(t)));
    out.push_back(
        paragraph("Corpus perplexity exp(-sum log p / tokens) of each perplexity benchmark's reference texts (lower is "
                  "better), from the eval JSONs.",
                  "note"));
  }
  // Held-out loss per source (data.heldout).
  std::set<std::string> sources;
  for (const auto& s : run.stages)
    for (const auto& [src, series] : s.heldout_loss) sources.insert(src);
  if (sources.empty()) {
    out.push_back(paragraph(
        "Held-out loss: not recorded (no heldout_loss record in any stage's metrics.jsonl; data.heldout names the "
        "validation sources)."));
  } else {
    Table t;
    t.header = {"stage", "step", "global step"};
    for (const auto& src : sources) t.header.push_back("held-out loss: " + src);
    t.right.assign(t.header.size(), true);
    t.right[0] = false;
    for (size_t i = 0; i < run.stages.size(); ++i) {
      std::map<int64_t, std::map<std::string, double>> by_step;
      for (const auto& [src, series] : run.stages[i].heldout_loss)
        for (const auto& [step, v] : series) by_step[step][src] = v;
      for (const auto& [step, m] : by_step) {
        std::vector<Cell> row = {run.stages[i].name, std::to_string(step), std::to_string(offsets[i] + step)};
        for (const auto& src : sources) row.emplace_back(m.count(src) ? fmt::format("{:.4f}", m.at(src)) : "-");
        t.rows.push_back(row);
      }
    }
    out.push_back(table_block(std::move(t)));
  }
  auto charts = perplexity_svgs(run);
  if (!charts.empty()) out.push_back(charts_block(std::move(charts)));
  return out;
}

// Up to two right and two wrong examples per benchmark, in their order, with the item's images.
std::vector<Block> example_blocks(const Context& ctx, const StageEval& e) {
  std::vector<Block> out;
  for (const auto& [bench, list] : e.examples.items()) {
    if (!list.is_array() || list.empty()) continue;
    Table t;
    t.header = {"image", "id", "question", "prediction", "reference", "score"};
    t.right = {false, false, false, false, false, true};
    size_t right = 0, wrong = 0;
    bool any_image = false;
    for (const auto& x : list) {
      const double score = x.value("score", 0.0);
      size_t& kind = score >= 0.5 ? right : wrong;
      if (kind >= 2) continue;
      ++kind;
      std::vector<std::string> answers;
      if (x.contains("answers") && x["answers"].is_array())
        for (const auto& a : x["answers"])
          if (a.is_string() && answers.size() < 3) answers.push_back(a.get<std::string>());
      Cell images;
      if (x.contains("images") && x["images"].is_array())
        for (const auto& p : x["images"]) {
          if (!p.is_string()) continue;
          any_image = true;
          if (fs::is_regular_file(p.get<std::string>()))
            images.images.push_back(rel_href(p.get<std::string>(), ctx.out_dir));
          else
            images.text += (images.text.empty() ? "" : " ") + ("(not found: " + p.get<std::string>() + ")");
        }
      const json& id = x.contains("id") ? x["id"] : json("");
      t.rows.push_back({images, id.is_string() ? id.get<std::string>() : id.dump(),
                        one_line(x.value("question", ""), 120), one_line(x.value("prediction", ""), 80),
                        one_line(fmt::format("{}", fmt::join(answers, "; ")), 80), fmt::format("{:.2f}", score)});
    }
    if (!any_image) {  // a text-only benchmark: no image column
      t.header.erase(t.header.begin()), t.right.erase(t.right.begin());
      for (auto& row : t.rows) row.erase(row.begin());
    }
    std::string title = bench;
    if (e.benchmarks.contains(bench) && e.benchmarks[bench].contains("score")) {
      const json& b = e.benchmarks[bench];
      const double sc = b["score"].get<double>();
      title += b.value("metric", "") == "perplexity" ? fmt::format(" (perplexity {:.3f})", sc)
                                                     : fmt::format(" ({}, {:.1f}%)", b.value("metric", ""), 100 * sc);
    }
    out.push_back(heading(title, 3));
    out.push_back(table_block(std::move(t)));
  }
  return out;
}

}  // namespace report
}  // namespace mm::eval
