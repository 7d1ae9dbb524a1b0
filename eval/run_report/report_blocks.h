// Internal to eval/run_report/: the report is built once as a list of blocks (headings, paragraphs,
// tables whose cells may hold links and images, code lines, rows of charts) and rendered twice,
// Markdown and HTML (run_report.cpp). The sections: report_sections.cpp (scores, benchmarks,
// perplexity, examples), report_meta.cpp (the run: model, stages, links).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/run_report/run_report.h"

namespace mm::eval::report {

struct Link {
  std::string text, href;  // href relative to the report file
};

struct Cell {
  std::string text;
  std::vector<Link> links;          // after the text, comma-separated
  std::vector<std::string> images;  // hrefs relative to the report file, shown as pictures
  bool code = false;                // monospace
  Cell(std::string t = "") : text(std::move(t)) {}
  Cell(const char* t) : text(t) {}
};

struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;  // right-aligned columns
  std::vector<std::vector<Cell>> rows;
};

struct Block {
  enum Kind { kHeading, kParagraph, kTable, kCode, kCharts } kind = kParagraph;
  std::string text;  // heading / paragraph / code text
  int level = 2;
  Table table;
  std::vector<Chart> charts;  // kCharts: side by side in HTML, one image each in Markdown
  std::string css_class;      // kParagraph: "note" for footnotes
};

Block heading(std::string text, int level);
Block paragraph(std::string text, std::string css_class = "");
Block table_block(Table t);
Block code_block(std::string text);
Block charts_block(std::vector<Chart> charts);

// What a section needs: the run and where the report file goes (for relative links).
struct Context {
  const RunSummary& run;
  std::string out_dir;
};

std::string percent(const std::optional<double>& x);
std::string one_line(std::string s, size_t max_chars);
// `target` (a path, relative ones from the working directory) relative to `from_dir`, '/'-separated
// and with the characters a URL reserves percent-encoded.
std::string rel_href(const std::string& target, const std::string& from_dir);
// "1h02m", "6m34s", "42s".
std::string duration(double seconds);
// "2026-12-07 05:11:59 UTC".
std::string utc_time(double unix_seconds);

// The categories with a score in any row or a chance level, in the canonical order.
std::vector<std::string> categories_of(const RunSummary& run);
// (row name, eval) for the init row and every stage (nullptr: no eval).
std::vector<std::pair<std::string, const StageEval*>> score_rows(const RunSummary& run);
// The last stage's last evaluation (else init's), and the name of its row; nullptr when none.
std::pair<const StageEval*, std::string> final_eval(const RunSummary& run);

Table scores_table(const RunSummary& run);
Table training_table(const RunSummary& run);
Table scores_over_steps_table(const RunSummary& run);
Table benchmarks_table(const StageEval& e);
std::vector<Block> perplexity_blocks(const Context& ctx);
std::vector<Block> example_blocks(const Context& ctx, const StageEval& e);
std::vector<Block> meta_blocks(const Context& ctx);

// Blocks rendered (run_report.cpp): Markdown (charts as image links to their files), and one
// self-contained HTML page titled `title` (charts inline). The sweep report renders its own with them.
std::string blocks_markdown(const std::vector<Block>& blocks);
std::string blocks_html(const std::string& title, const std::vector<Block>& blocks);

}  // namespace mm::eval::report
