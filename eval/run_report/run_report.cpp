// Rendering a run's report (run_report.h). The report is built once as a list of blocks (headings,
// paragraphs, tables, charts) and rendered twice: Markdown and HTML. Reading the run:
// run_report_read.cpp.
#include "eval/run_report/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/check.h"
#include "core/io.h"
#include "eval/eval_item.h"
#include "eval/run_report/svg_chart.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::eval {
namespace {

constexpr Category kAllCategories[] = {Category::kGeneral,     Category::kTextRich,   Category::kKnowledge,
                                       Category::kReferGround, Category::kMultiImage, Category::kTextOnly};

std::string percent(const std::optional<double>& x) { return x ? fmt::format("{:.1f}", 100.0 * *x) : "-"; }

struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;  // right-aligned columns
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  enum Kind { kHeading, kParagraph, kTable, kChart } kind;
  std::string text;  // heading / paragraph text; chart: file name
  int level = 2;
  Table table;
  std::string svg;  // chart content
};

// The categories with a score in any row or a chance level, in the canonical order.
std::vector<std::string> categories_of(const RunSummary& run) {
  std::vector<std::string> out;
  for (Category c : kAllCategories) {
    const std::string name = category_name(c);
    bool any = run.chance.categories.count(name) || (run.init && run.init->categories.count(name));
    for (const auto& s : run.stages) any |= s.eval && s.eval->categories.count(name);
    if (any) out.push_back(name);
  }
  return out;
}

// (row name, eval) for the init row and every stage with an eval.
std::vector<std::pair<std::string, const StageEval*>> score_rows(const RunSummary& run) {
  std::vector<std::pair<std::string, const StageEval*>> rows;
  if (run.init) rows.emplace_back("init", &*run.init);
  for (const auto& s : run.stages) rows.emplace_back(s.name, s.eval ? &*s.eval : nullptr);
  return rows;
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
    std::vector<std::string> row = {name, e ? std::to_string(e->step) : "-"};
    for (const auto& c : cats) row.push_back(e ? percent(score_of(e->categories, c)) : "-");
    row.push_back(e ? percent(e->mmbase) : "-");
    t.rows.push_back(row);
  }
  std::vector<std::string> row = {"chance", ""};
  for (const auto& c : cats) row.push_back(percent(score_of(run.chance.categories, c)));
  row.push_back(percent(run.chance.mmbase));
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

std::string one_line(std::string s, size_t max_chars) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

// Up to two right and two wrong examples per benchmark of the final eval, in their order.
std::vector<Block> example_blocks(const StageEval& e) {
  std::vector<Block> out;
  for (const auto& [bench, list] : e.examples.items()) {
    if (!list.is_array() || list.empty()) continue;
    Table t;
    t.header = {"id", "question", "prediction", "reference", "score"};
    t.right = {false, false, false, false, true};
    size_t right = 0, wrong = 0;
    for (const auto& x : list) {
      const double score = x.value("score", 0.0);
      size_t& kind = score >= 0.5 ? right : wrong;
      if (kind >= 2) continue;
      ++kind;
      std::vector<std::string> answers;
      if (x.contains("answers") && x["answers"].is_array())
        for (const auto& a : x["answers"])
          if (a.is_string() && answers.size() < 3) answers.push_back(a.get<std::string>());
      const json& id = x.contains("id") ? x["id"] : json("");
      t.rows.push_back({id.is_string() ? id.get<std::string>() : id.dump(), one_line(x.value("question", ""), 120),
                        one_line(x.value("prediction", ""), 80),
                        one_line(fmt::format("{}", fmt::join(answers, "; ")), 80), fmt::format("{:.2f}", score)});
    }
    std::string title = bench;
    if (e.benchmarks.contains(bench) && e.benchmarks[bench].contains("score")) {
      const json& b = e.benchmarks[bench];
      const double sc = b["score"].get<double>();
      title += b.value("metric", "") == "perplexity" ? fmt::format(" (perplexity {:.3f})", sc)
                                                     : fmt::format(" ({}, {:.1f}%)", b.value("metric", ""), 100 * sc);
    }
    out.push_back({Block::kHeading, title, 3, {}, {}});
    out.push_back({Block::kTable, "", 2, t, {}});
  }
  return out;
}

std::vector<Block> report_blocks(const RunSummary& run) {
  std::vector<Block> b;
  auto para = [&](const std::string& text) { b.push_back({Block::kParagraph, text, 2, {}, {}}); };
  auto heading = [&](const std::string& text, int level) { b.push_back({Block::kHeading, text, level, {}, {}}); };
  heading("Run report: " + run.run_dir, 1);
  std::vector<std::string> names;
  for (const auto& s : run.stages) names.push_back(s.name);
  para(fmt::format("Stages, in order: {}.{}", fmt::join(names, " -> "),
                   run.init ? " The init row is the model evaluated before training." : ""));
  if (run.wall_seconds)
    para(fmt::format("Measured wall time: {:.0f} s ({:.1f} min).", *run.wall_seconds, *run.wall_seconds / 60));
  heading("Scores by category (%)", 2);
  b.push_back({Block::kTable, "", 2, scores_table(run), {}});
  para("Each stage's row is its last evaluation. Chance: " + run.chance_source +
       ". Multiple choice: the expected score of a random letter; other accuracy metrics: the score of always "
       "giving the most frequent reference answer (for boxes, or the best constant box on a 50-unit grid, "
       "whichever is higher); a category's chance is the mean over its benchmarks.");
  b.push_back({Block::kChart, "scores.svg", 2, {}, scores_svg(run)});
  heading("Training", 2);
  b.push_back({Block::kTable, "", 2, training_table(run), {}});
  b.push_back({Block::kChart, "loss.svg", 2, {}, loss_svg(run)});
  const StageEval* final_eval = run.init ? &*run.init : nullptr;
  std::string final_name = "init";
  for (const auto& s : run.stages)
    if (s.eval) final_eval = &*s.eval, final_name = s.name;
  if (final_eval && !final_eval->examples.empty()) {
    heading(fmt::format("Example predictions ({}, step {})", final_name, final_eval->step), 2);
    for (auto& blk : example_blocks(*final_eval)) b.push_back(std::move(blk));
  }
  if (!run.notes.empty()) {
    heading("Notes", 2);
    for (const auto& n : run.notes) para(n);
  }
  return b;
}

// A Markdown table cell: '|' escaped, '<' '>' as entities (so "<image>" shows instead of vanishing as a tag).
std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? "\\|" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  return out;
}

std::string table_markdown(const Table& t) {
  std::string md = "|";
  for (const auto& h : t.header) md += " " + md_cell(h) + " |";
  md += "\n|";
  for (size_t i = 0; i < t.header.size(); ++i) md += i < t.right.size() && t.right[i] ? "---:|" : "---|";
  md += "\n";
  for (const auto& row : t.rows) {
    md += "|";
    for (const auto& c : row) md += " " + md_cell(c) + " |";
    md += "\n";
  }
  return md;
}

std::string table_html(const Table& t) {
  std::string h = "<table>\n<tr>";
  for (const auto& x : t.header) h += "<th>" + svg::xml_escape(x) + "</th>";
  h += "</tr>\n";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (size_t i = 0; i < row.size(); ++i)
      h += (i < t.right.size() && t.right[i] ? "<td class=\"num\">" : "<td>") + svg::xml_escape(row[i]) + "</td>";
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

}  // namespace

std::string loss_svg(const RunSummary& run) {
  std::vector<svg::LossStage> stages;
  double offset = 0;
  for (const auto& s : run.stages) {
    svg::LossStage ls{s.name, offset, offset + static_cast<double>(s.steps), {}};
    for (const auto& [step, loss] : s.loss) ls.points.emplace_back(offset + static_cast<double>(step), loss);
    offset = ls.end;
    stages.push_back(std::move(ls));
  }
  return svg::loss_chart(stages);
}

std::string scores_svg(const RunSummary& run) {
  svg::BarChart chart;
  chart.groups = categories_of(run);
  for (const auto& [name, e] : score_rows(run)) {
    chart.series.push_back(name);
    std::vector<std::optional<double>> values;
    for (const auto& c : chart.groups) values.push_back(e ? score_of(e->categories, c) : std::nullopt);
    chart.values.push_back(values);
  }
  for (const auto& c : chart.groups) chart.reference.push_back(score_of(run.chance.categories, c));
  return svg::bar_chart(chart);
}

std::string run_report_markdown(const RunSummary& run) {
  std::string md;
  for (const auto& b : report_blocks(run)) {
    switch (b.kind) {
      case Block::kHeading:
        md += std::string(b.level, '#') + " " + b.text + "\n\n";
        break;
      case Block::kParagraph:
        md += b.text + "\n\n";
        break;
      case Block::kTable:
        md += table_markdown(b.table) + "\n";
        break;
      case Block::kChart:
        md += fmt::format("![{}]({})\n\n", b.text, b.text);
        break;
    }
  }
  return md;
}

std::string run_report_html(const RunSummary& run) {
  std::string h =
      "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      svg::xml_escape("Run report: " + run.run_dir) +
      "</title>\n<style>\nbody { font-family: sans-serif; max-width: 60em; margin: 2em auto; }\n"
      "table { border-collapse: collapse; margin: 1em 0; }\nth, td { border: 1px solid #ccc; padding: 3px 8px; }\n"
      "td.num { text-align: right; }\n</style>\n</head>\n<body>\n";
  for (const auto& b : report_blocks(run)) {
    switch (b.kind) {
      case Block::kHeading:
        h += fmt::format("<h{0}>{1}</h{0}>\n", b.level, svg::xml_escape(b.text));
        break;
      case Block::kParagraph:
        h += "<p>" + svg::xml_escape(b.text) + "</p>\n";
        break;
      case Block::kTable:
        h += table_html(b.table);
        break;
      case Block::kChart:
        h += "<figure>\n" + b.svg + "</figure>\n";
        break;
    }
  }
  return h + "</body>\n</html>\n";
}

WrittenReport write_run_report(const RunSummary& run, const std::string& out_dir) {
  fs::create_directories(out_dir);
  const fs::path d(out_dir);
  WrittenReport w{(d / "report.md").string(), (d / "report.html").string(), (d / "loss.svg").string(),
                  (d / "scores.svg").string()};
  io::write_file_atomic(w.loss_svg, loss_svg(run));
  io::write_file_atomic(w.scores_svg, scores_svg(run));
  io::write_file_atomic(w.markdown, run_report_markdown(run));
  io::write_file_atomic(w.html, run_report_html(run));
  return w;
}

std::string scores_table_markdown(const RunSummary& run) { return table_markdown(scores_table(run)); }
std::string training_table_markdown(const RunSummary& run) { return table_markdown(training_table(run)); }

}  // namespace mm::eval
