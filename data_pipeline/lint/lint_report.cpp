// LintReport as a readable table and as one JSON object (`mmtrain data lint [--json]`).
#include <fmt/format.h>

#include <string>

#include "data_pipeline/lint/lint.h"

namespace mm::data {

namespace {

constexpr size_t kExamples = 5;  // quarantined records shown per source in the table (all go to quarantine.jsonl)

std::string percent(double f) { return fmt::format("{:.2f}%", 100.0 * f); }

// "2 missing_file, 1 unreadable_image" (issues with a count only).
// "malformed: wrong_type": the lint issue and, when it is not the same word, the quarantine kind
// that quarantine.jsonl records for the entry, so the console and the file name it alike.
std::string issue_and_kind(const QuarantineEntry& e) {
  const std::string issue = to_string(classify(e)), kind = to_string(e.kind);
  return issue == kind || e.kind == QuarantineKind::Other ? issue : issue + ": " + kind;
}

std::string issue_list(const SourceLint& s) {
  std::string out;
  for (int i = 0; i < kLintIssueCount; ++i) {
    if (s.issues[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", s.issues[i], to_string(static_cast<LintIssue>(i)));
  }
  return out;
}

// Why the report fails, one line per cause (empty when it passes).
std::vector<std::string> failures(const LintReport& r) {
  std::vector<std::string> out;
  if (r.sources.empty()) out.push_back("no sources");
  for (const auto& s : r.sources) {
    if (s.verdict == "unusable")
      out.push_back(s.open_error.empty() ? fmt::format("source {} is unusable: no good records", s.config.name)
                                         : fmt::format("source {} is unusable: {}", s.config.name, s.open_error));
    else if (s.verdict == "fail")
      out.push_back(fmt::format("source {}: {} of {} records bad ({}) > max bad fraction {}", s.config.name, s.bad,
                                s.records, percent(s.bad_fraction()), percent(r.max_bad_fraction)));
  }
  if (!r.mixture) out.push_back("mixture: " + r.mixture_error);
  return out;
}

}  // namespace

std::string LintReport::to_table() const {
  std::string out =
      fmt::format("data lint{}: seq_len {}, {} tokens per tile, max bad fraction {}\n",
                  stage.empty() ? "" : " of stage " + stage, seq_len, tokens_per_tile, percent(max_bad_fraction));
  out +=
      fmt::format("{:<22} {:<11} {:>8} {:>6} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6} {:>8}  {}\n", "source", "format",
                  "records", "bad", "bad%", "images", "budget", "tok/mean", "p50", "p99", "loss%", "rec/s", "verdict");
  for (const auto& s : sources) {
    out += fmt::format("{:<22} {:<11} {:>8} {:>6} {:>7} {:>7} {:>7} {:>8.1f} {:>6} {:>6} {:>6.1f} {:>8.0f}  {}\n",
                       s.config.name, s.config.format, s.records, s.bad, percent(s.bad_fraction()), s.images,
                       s.budgeted, s.tokens.mean, s.tokens.p50, s.tokens.p99, 100.0 * s.tokens.loss_share(),
                       s.seconds > 0 ? s.records / s.seconds : 0.0, s.verdict);
  }
  // Details: why records are bad, with the first few of them.
  for (const auto& s : sources) {
    if (!s.open_error.empty()) out += fmt::format("  {}: cannot open: {}\n", s.config.name, s.open_error);
    if (s.bad > 0) out += fmt::format("  {}: {}\n", s.config.name, issue_list(s));
    size_t shown = 0;
    for (const auto& e : quarantine) {
      if (e.source != s.config.name) continue;
      if (shown++ == kExamples) {
        out += fmt::format("    ... ({} more in quarantine.jsonl)\n", s.bad - static_cast<int64_t>(kExamples));
        break;
      }
      out += fmt::format("    {} [{}]: {}\n", e.id, issue_and_kind(e), e.reason);
    }
    if (s.budgeted > 0)
      out += fmt::format("  {}: {} samples needed tile budgeting (fewer tiles than configured to fit seq_len {})\n",
                         s.config.name, s.budgeted, seq_len);
    if (s.chunked > 0)
      out += fmt::format("  {}: {} text-only samples are longer than seq_len {} (the packer cuts them)\n",
                         s.config.name, s.chunked, seq_len);
    if (s.fraction_boxes > 0)
      out += fmt::format(
          "  {}: warning: {} samples write boxes as 0-1 fractions (first: {}); mmtrain's boxes are integers on "
          "the 0..999 grid (min(999, int(1000 * fraction))): as written they train as plain text and "
          "are not checked (docs/your_own_data.md)\n",
          s.config.name, s.fraction_boxes, s.fraction_box_example);
  }
  out += "\nmixture (effective shares):\n";
  out += mixture ? mixture->to_table() : "  error: " + mixture_error + "\n";
  const auto why = failures(*this);
  out += fmt::format("\n{} records in {:.2f} s ({:.0f} records/s), {} quarantined\n", records(), seconds,
                     records_per_s(), quarantine.size());
  if (why.empty()) {
    out += "verdict: pass\n";
  } else {
    out += "verdict: fail\n";
    for (const auto& w : why) out += "  " + w + "\n";
  }
  return out;
}

nlohmann::ordered_json LintReport::to_json() const {
  using Json = nlohmann::ordered_json;
  Json j;
  j["verdict"] = ok() ? "pass" : "fail";
  j["failures"] = failures(*this);
  if (!stage.empty()) j["stage"] = stage;
  j["seq_len"] = seq_len;
  j["tokens_per_tile"] = tokens_per_tile;
  j["max_bad_fraction"] = max_bad_fraction;
  j["records"] = records();
  j["quarantined"] = quarantine.size();
  j["seconds"] = seconds;
  j["records_per_s"] = records_per_s();
  j["sources"] = Json::array();
  for (const auto& s : sources) {
    Json o;
    o["name"] = s.config.name;
    o["format"] = s.config.format;
    o["path"] = s.config.path;
    o["category"] = s.config.category;
    o["verdict"] = s.verdict;
    if (!s.open_error.empty()) o["error"] = s.open_error;
    o["records"] = s.records;
    o["good"] = s.good;
    o["bad"] = s.bad;
    o["bad_fraction"] = s.bad_fraction();
    o["images"] = s.images;
    o["tiles"] = s.tiles;
    o["budgeted"] = s.budgeted;
    o["chunked"] = s.chunked;
    o["fraction_boxes"] = s.fraction_boxes;
    Json issues = Json::object();
    for (int i = 0; i < kLintIssueCount; ++i) issues[to_string(static_cast<LintIssue>(i))] = s.issues[i];
    o["issues"] = issues;
    o["tokens"] = {{"samples", s.tokens.samples}, {"mean", s.tokens.mean}, {"p50", s.tokens.p50},
                   {"p99", s.tokens.p99},         {"max", s.tokens.max},   {"total", s.tokens.total},
                   {"loss", s.tokens.loss}};
    o["loss_share"] = s.tokens.loss_share();
    o["seconds"] = s.seconds;
    o["records_per_s"] = s.seconds > 0 ? s.records / s.seconds : 0.0;
    Json examples = Json::array();
    for (const auto& e : quarantine) {
      if (e.source != s.config.name) continue;
      if (examples.size() == 20) break;
      examples.push_back(
          {{"id", e.id}, {"issue", to_string(classify(e))}, {"kind", to_string(e.kind)}, {"reason", e.reason}});
    }
    o["examples"] = examples;
    j["sources"].push_back(o);
  }
  if (mixture)
    j["mixture"] = mixture->to_json();
  else
    j["mixture"] = {{"error", mixture_error}};
  return j;
}

}  // namespace mm::data
