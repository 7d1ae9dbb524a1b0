// Rendering a run's report (run_report.h): the sections (report_sections.cpp, report_meta.cpp,
// report_charts.cpp) as one list of blocks, rendered as Markdown and as self-contained HTML, and
// written with their chart files. Reading the run: run_report_read.cpp, run_meta_read.cpp.
#include "eval/run_report/run_report.h"

#include <fmt/format.h>

#include <filesystem>

#include "core/io.h"
#include "eval/run_report/report_blocks.h"
#include "eval/run_report/svg_chart.h"

namespace fs = std::filesystem;

namespace mm::eval {
namespace {

using report::Block;
using report::Cell;
using report::Table;

std::vector<Block> report_blocks(const RunSummary& run, const std::string& out_dir) {
  using namespace report;
  const Context ctx{run, out_dir.empty() ? run.run_dir : out_dir};
  std::vector<Block> b;
  b.push_back(heading("Run report: " + run.run_dir, 1));
  std::vector<std::string> names;
  for (const auto& s : run.stages) names.push_back(s.name);
  b.push_back(paragraph(fmt::format("Stages, in order: {}.{}", fmt::join(names, " -> "),
                                    run.init ? " The init row is the model evaluated before training." : "")));
  if (run.wall_seconds)
    b.push_back(paragraph(
        fmt::format("Measured wall time: {:.0f} s ({:.1f} min).", *run.wall_seconds, *run.wall_seconds / 60)));
  b.push_back(heading("The run", 2));
  for (auto& blk : meta_blocks(ctx)) b.push_back(std::move(blk));

  b.push_back(heading("Scores by category (%)", 2));
  b.push_back(table_block(scores_table(run)));
  b.push_back(paragraph("Each stage's row is its last evaluation. Chance: " + run.chance_source +
                        ". Multiple choice: the expected score of a random letter; other accuracy metrics: the score "
                        "of always giving the most frequent reference answer (for boxes, or the best constant box on "
                        "a 50-unit grid, whichever is higher); a category's chance is the mean over its benchmarks."));
  b.push_back(charts_block({{"scores.svg", scores_svg(run)}}));

  b.push_back(heading("Scores over the steps", 2));
  b.push_back(paragraph(
      "Every evaluation of every stage (dots), on the global step: the stages one after the other, boundaries "
      "dashed. The grey dashed line is the chance level."));
  b.push_back(charts_block(scores_over_steps_svgs(run)));
  b.push_back(table_block(scores_over_steps_table(run)));

  const auto [last, last_name] = final_eval(run);
  if (last && !last->benchmarks.empty()) {
    b.push_back(heading(fmt::format("Benchmarks ({}, step {})", last_name, last->step), 2));
    b.push_back(table_block(benchmarks_table(*last)));
    b.push_back(paragraph(
        "95% interval: the Wilson score interval (z = 1.96) of the score as a proportion of the n items. It is "
        "exact for metrics that score each item 0 or 1 (exact_match, multiple_choice, iou@0.5, vqa_accuracy with "
        "one reference) and an approximation for partial credit (vqa_accuracy with several references, anls). "
        "Perplexity has none.",
        "note"));
  }
  b.push_back(heading("Text perplexity and held-out loss", 2));
  for (auto& blk : perplexity_blocks(ctx)) b.push_back(std::move(blk));

  b.push_back(heading("Training", 2));
  b.push_back(table_block(training_table(run)));
  b.push_back(charts_block({{"loss.svg", loss_svg(run)}}));
  b.push_back(charts_block({loss_by_source_svg(run)}));
  b.push_back(charts_block(training_svgs(run)));

  if (last && !last->examples.empty()) {
    b.push_back(heading(fmt::format("Example predictions ({}, step {})", last_name, last->step), 2));
    if (!run.examples_images_from.empty()) b.push_back(paragraph("Images: " + run.examples_images_from + ".", "note"));
    for (auto& blk : example_blocks(ctx, *last)) b.push_back(std::move(blk));
  }
  if (!run.notes.empty()) {
    b.push_back(heading("Notes", 2));
    for (const auto& n : run.notes) b.push_back(paragraph(n));
  }
  return b;
}

// A Markdown table cell: '|' escaped, '<' '>' as entities (so "<image>" shows instead of vanishing as a tag).
std::string md_text(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? "\\|" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
  return out;
}

std::string md_cell(const Cell& c) {
  std::string out = c.code && !c.text.empty() ? "`" + c.text + "`" : md_text(c.text);
  for (size_t i = 0; i < c.links.size(); ++i)
    out += (i ? ", " : out.empty() ? "" : " ") + fmt::format("[{}]({})", md_text(c.links[i].text), c.links[i].href);
  for (const auto& img : c.images) out += (out.empty() ? "" : " ") + fmt::format("![image]({})", img);
  return out;
}

std::string table_markdown(const Table& t) {
  std::string md = "|";
  for (const auto& h : t.header) md += " " + md_text(h) + " |";
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

std::string html_cell(const Cell& c) {
  std::string out = c.code ? "<code>" + svg::xml_escape(c.text) + "</code>" : svg::xml_escape(c.text);
  for (size_t i = 0; i < c.links.size(); ++i)
    out += (i             ? ", "
            : out.empty() ? ""
                          : " ") +
           fmt::format("<a href=\"{}\">{}</a>", svg::xml_escape(c.links[i].href), svg::xml_escape(c.links[i].text));
  for (const auto& img : c.images)
    out += fmt::format("<a href=\"{0}\"><img src=\"{0}\" alt=\"the item's image\"></a>", svg::xml_escape(img));
  return out;
}

std::string table_html(const Table& t) {
  bool header = false;
  for (const auto& x : t.header) header |= !x.empty();
  std::string h = "<table>\n";
  if (header) {
    h += "<tr>";
    for (const auto& x : t.header) h += "<th>" + svg::xml_escape(x) + "</th>";
    h += "</tr>\n";
  }
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (size_t i = 0; i < row.size(); ++i)
      h += (i < t.right.size() && t.right[i] ? "<td class=\"num\">" : "<td>") + html_cell(row[i]) + "</td>";
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

constexpr const char* kStyle =
    "body { font-family: sans-serif; max-width: 1240px; margin: 1.5em auto; padding: 0 1em; color: #222; }\n"
    "table { border-collapse: collapse; margin: 0.8em 0; font-size: 14px; }\n"
    "th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }\n"
    "th { background: #f3f3f3; }\ntd.num { text-align: right; white-space: nowrap; }\n"
    "td:first-child { white-space: nowrap; }\n"
    "td img { height: 96px; max-width: 200px; object-fit: contain; margin: 0 2px; image-rendering: pixelated; "
    "border: 1px solid #ddd; }\n"
    "p.note { font-size: 13px; color: #555; }\n"
    "pre { background: #f6f6f6; padding: 6px 10px; }\n"
    ".charts { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }\n"
    ".charts svg { border: 1px solid #eee; }\n";

}  // namespace

namespace report {

std::string blocks_markdown(const std::vector<Block>& blocks) {
  std::string md;
  for (const auto& b : blocks) {
    switch (b.kind) {
      case Block::kHeading:
        md += std::string(b.level, '#') + " " + b.text + "\n\n";
        break;
      case Block::kParagraph:
        md += (b.css_class == "note" ? "*" + b.text + "*" : b.text) + "\n\n";
        break;
      case Block::kTable:
        md += table_markdown(b.table) + "\n";
        break;
      case Block::kCode:
        md += "```\n" + b.text + "\n```\n\n";
        break;
      case Block::kCharts:
        for (const auto& c : b.charts) md += fmt::format("![{}]({})\n", c.file, c.file);
        md += "\n";
        break;
    }
  }
  return md;
}

std::string blocks_html(const std::string& title, const std::vector<Block>& blocks) {
  std::string h = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" + svg::xml_escape(title) +
                  "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n";
  for (const auto& b : blocks) {
    switch (b.kind) {
      case Block::kHeading:
        h += fmt::format("<h{0}>{1}</h{0}>\n", b.level, svg::xml_escape(b.text));
        break;
      case Block::kParagraph:
        h += (b.css_class.empty() ? "<p>" : "<p class=\"" + b.css_class + "\">") + svg::xml_escape(b.text) + "</p>\n";
        break;
      case Block::kTable:
        h += table_html(b.table);
        break;
      case Block::kCode:
        h += "<pre><code>" + svg::xml_escape(b.text) + "</code></pre>\n";
        break;
      case Block::kCharts:
        h += "<div class=\"charts\">\n";
        for (const auto& c : b.charts) h += c.svg;
        h += "</div>\n";
        break;
    }
  }
  return h + "</body>\n</html>\n";
}

}  // namespace report

std::string run_report_markdown(const RunSummary& run, const std::string& out_dir) {
  return report::blocks_markdown(report_blocks(run, out_dir));
}

std::string run_report_html(const RunSummary& run, const std::string& out_dir) {
  return report::blocks_html("Run report: " + run.run_dir, report_blocks(run, out_dir));
}

WrittenReport write_run_report(const RunSummary& run, const std::string& out_dir) {
  fs::create_directories(fs::path(out_dir) / "charts");
  const fs::path d(out_dir);
  WrittenReport w{(d / "report.md").string(),
                  (d / "report.html").string(),
                  (d / "loss.svg").string(),
                  (d / "scores.svg").string(),
                  {}};
  std::vector<Chart> charts = {{"loss.svg", loss_svg(run)}, {"scores.svg", scores_svg(run)}};
  for (auto& c : scores_over_steps_svgs(run)) charts.push_back(std::move(c));
  charts.push_back(loss_by_source_svg(run));
  for (auto& c : training_svgs(run)) charts.push_back(std::move(c));
  for (auto& c : perplexity_svgs(run)) charts.push_back(std::move(c));
  for (const auto& c : charts) {
    io::write_file_atomic((d / c.file).string(), c.svg);
    w.charts.push_back((d / c.file).string());
  }
  io::write_file_atomic(w.markdown, run_report_markdown(run, out_dir));
  io::write_file_atomic(w.html, run_report_html(run, out_dir));
  return w;
}

std::string scores_table_markdown(const RunSummary& run) { return table_markdown(report::scores_table(run)); }
std::string training_table_markdown(const RunSummary& run) { return table_markdown(report::training_table(run)); }
std::string scores_over_steps_markdown(const RunSummary& run) {
  return table_markdown(report::scores_over_steps_table(run));
}
std::string benchmarks_table_markdown(const RunSummary& run) {
  const auto fe = report::final_eval(run);
  return fe.first ? table_markdown(report::benchmarks_table(*fe.first)) : "";
}

}  // namespace mm::eval
