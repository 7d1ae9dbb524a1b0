#include "data_pipeline/lint/lint.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/logging.h"
#include "core/timer.h"
#include "data_pipeline/formats/record_check.h"
#include "data_pipeline/formats/registry.h"
#include "data_pipeline/loader/sample_pipeline.h"

namespace mm::data {

namespace {

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// What one worker thread collects; merged after the source is done.
struct Partial {
  int64_t good = 0, images = 0, tiles = 0, budgeted = 0, chunked = 0, loss = 0, total = 0;
  int64_t fraction_boxes = 0;
  std::string fraction_box_example;  // of the lowest record index seen by this thread
  int64_t fraction_box_record = -1;
  std::vector<int32_t> lengths;                             // tokens per good sample
  std::vector<std::pair<int64_t, QuarantineEntry>> errors;  // (record index, entry)
};

// Reads and encodes records [0, src.size()) of one opened source on `threads` threads.
void lint_records(const Source& src, const SamplePipeline& pipeline, int64_t threads, double progress_s,
                  SourceLint& out, std::vector<QuarantineEntry>& errors) {
  const int64_t n = static_cast<int64_t>(src.size());
  threads = std::max<int64_t>(1, std::min<int64_t>(threads, n));
  std::vector<Partial> parts(static_cast<size_t>(threads));
  std::atomic<int64_t> next{0}, done{0};
  std::exception_ptr failure;
  std::mutex mu;
  std::condition_variable cv;
  int64_t running = threads;
  const int64_t seq_len = pipeline.options().seq_len;

  auto work = [&](Partial& p) {
    try {
      for (int64_t i; (i = next++) < n;) {
        RawSample s;
        try {
          s = src.get(static_cast<size_t>(i));
        } catch (const RecordError& e) {
          p.errors.emplace_back(i, e.entry());
          ++done;
          continue;
        }
        p.images += static_cast<int64_t>(s.images.size());
        const bool text_only = s.images.empty();
        EncodedItem item = pipeline.encode(s);
        if (!item.ok()) {
          p.errors.emplace_back(i, *item.error);
        } else {
          const int64_t len = item.sample.size();
          ++p.good;
          p.tiles += item.num_tiles();
          p.budgeted += item.budget_steps > 0;
          p.chunked += text_only && len > seq_len;
          if (!text_only) {
            for (const auto& turn : s.turns) {
              if (auto box = find_fraction_box(turn.text)) {
                ++p.fraction_boxes;
                if (p.fraction_box_record < 0) p.fraction_box_record = i, p.fraction_box_example = *box;
                break;
              }
            }
          }
          p.total += len;
          p.loss += item.sample.loss_tokens();
          p.lengths.push_back(static_cast<int32_t>(std::min<int64_t>(len, INT32_MAX)));
        }
        ++done;
      }
    } catch (...) {  // a bug, not bad data: stop every worker and rethrow below
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
      next = n;
    }
    std::lock_guard<std::mutex> lock(mu);
    --running;
    cv.notify_all();
  };

  const Stopwatch watch;
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < threads; ++t) pool.emplace_back(work, std::ref(parts[static_cast<size_t>(t)]));
  {
    auto log = log::get("lint");
    std::unique_lock<std::mutex> lock(mu);
    Stopwatch since_last;
    while (running > 0) {
      cv.wait_for(lock, std::chrono::milliseconds(200));
      if (progress_s > 0 && since_last.seconds() >= progress_s && running > 0) {
        since_last.restart();
        const int64_t d = done.load();
        const double dt = watch.seconds();
        log->info("{}: {}/{} records ({:.0f}%), {:.0f} records/s", src.name(), d, n,
                  100.0 * d / std::max<int64_t>(n, 1), d / std::max(dt, 1e-9));
      }
    }
  }
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);

  std::vector<int32_t> lengths;
  std::vector<std::pair<int64_t, QuarantineEntry>> bad;
  for (auto& p : parts) {
    out.good += p.good;
    out.images += p.images;
    out.tiles += p.tiles;
    out.budgeted += p.budgeted;
    out.chunked += p.chunked;
    out.fraction_boxes += p.fraction_boxes;
    out.tokens.total += p.total;
    out.tokens.loss += p.loss;
    lengths.insert(lengths.end(), p.lengths.begin(), p.lengths.end());
    for (auto& e : p.errors) bad.push_back(std::move(e));
  }
  int64_t first = -1;  // the example of the first such record, whatever thread read it
  for (const auto& p : parts) {
    if (p.fraction_box_record >= 0 && (first < 0 || p.fraction_box_record < first))
      first = p.fraction_box_record, out.fraction_box_example = p.fraction_box_example;
  }
  // Record order, whatever thread read what: the report and quarantine.jsonl are deterministic.
  std::sort(bad.begin(), bad.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& e : bad) errors.push_back(std::move(e.second));
  std::sort(lengths.begin(), lengths.end());
  TokenStats& t = out.tokens;
  t.samples = static_cast<int64_t>(lengths.size());
  if (t.samples > 0) {
    auto at = [&](double q) {  // nearest-rank percentile
      int64_t k = static_cast<int64_t>(std::ceil(q * static_cast<double>(t.samples))) - 1;
      return static_cast<int64_t>(lengths[static_cast<size_t>(std::clamp<int64_t>(k, 0, t.samples - 1))]);
    };
    t.mean = static_cast<double>(t.total) / static_cast<double>(t.samples);
    t.p50 = at(0.50);
    t.p99 = at(0.99);
    t.max = lengths.back();
  }
}

}  // namespace

const char* to_string(LintIssue issue) {
  switch (issue) {
    case LintIssue::Malformed:
      return "malformed";
    case LintIssue::DamagedShard:
      return "damaged_shard";
    case LintIssue::MissingImage:
      return "missing_image";
    case LintIssue::UnreadableImage:
      return "unreadable_image";
    case LintIssue::OversizedImage:
      return "oversized_image";
    case LintIssue::PlaceholderMismatch:
      return "placeholder_mismatch";
    case LintIssue::NoAssistantTurn:
      return "no_assistant_turn";
    case LintIssue::BoxOutOfRange:
      return "box_out_of_range";
    case LintIssue::TooLong:
      return "too_long";
    case LintIssue::NoLoss:
      return "no_loss";
    case LintIssue::Other:
      return "other";
  }
  return "other";
}

LintIssue classify(const QuarantineEntry& e) {
  switch (e.kind) {
    case QuarantineKind::BadJson:
    case QuarantineKind::MissingField:
    case QuarantineKind::WrongType:
    case QuarantineKind::EmptyText:
    case QuarantineKind::MissingMember:
    case QuarantineKind::ImagePath:
      return LintIssue::Malformed;
    case QuarantineKind::NotAFile:
      return LintIssue::UnreadableImage;
    case QuarantineKind::DamagedShard:
      return LintIssue::DamagedShard;
    case QuarantineKind::MissingImage:
      return LintIssue::MissingImage;
    case QuarantineKind::PlaceholderMismatch:
      return LintIssue::PlaceholderMismatch;
    case QuarantineKind::NoAssistantTurn:
      return LintIssue::NoAssistantTurn;
    case QuarantineKind::BoxOutOfRange:
      return LintIssue::BoxOutOfRange;
    case QuarantineKind::Other:
      break;
  }
  // Kind Other: SamplePipeline::encode words image failures "image K (NAME): <ImageError>",
  // the tile budget "... exceed(s) the sequence length ..." and "no token carries loss ...".
  const std::string& r = e.reason;
  if (contains(r, "image too large")) return LintIssue::OversizedImage;
  if (contains(r, "cannot open image")) return LintIssue::MissingImage;
  if (r.rfind("image ", 0) == 0) return LintIssue::UnreadableImage;
  if (contains(r, "the sequence length")) return LintIssue::TooLong;
  if (contains(r, "no token carries loss")) return LintIssue::NoLoss;
  return LintIssue::Other;
}

bool LintReport::ok() const {
  if (!mixture) return false;
  for (const auto& s : sources)
    if (s.verdict != "pass") return false;
  return !sources.empty();
}

int64_t LintReport::records() const {
  int64_t n = 0;
  for (const auto& s : sources) n += s.records;
  return n;
}

LintInputs lint_inputs(const RunConfig& cfg, const std::string& stage) {
  const std::string where = stage.empty() ? "" : " (stage " + stage + ")";
  MM_CHECK(!cfg.data.sources.empty(), "data lint{}: the config has no data.sources", where);
  MM_CHECK(!cfg.tokenizer.model_path.empty(), "data lint{}: tokenizer.model_path is not set (needed to count tokens)",
           where);
  LintInputs in;
  in.stage = stage;
  in.sources = cfg.data.sources;
  in.mixture = cfg.data.mixture;
  in.image = cfg.image;
  in.tokenizer = tok::Tokenizer::load(cfg.tokenizer);
  in.seq_len = cfg.loader.seq_len;
  in.tokens_per_tile = cfg.model.connector.num_tokens;
  in.split_long_text = cfg.loader.split_long_text;
  return in;
}

LintReport lint_data(const LintInputs& in, const LintOptions& opts) {
  MM_CHECK(!in.sources.empty(), "data lint{}: the config has no data.sources",
           in.stage.empty() ? "" : " (stage " + in.stage + ")");
  MM_CHECK(in.tokenizer.loaded(), "data lint: the tokenizer is not loaded (set tokenizer.model_path)");
  MM_CHECK(opts.max_bad_fraction >= 0 && opts.max_bad_fraction <= 1,
           "data lint: --max-bad-fraction expects a fraction in 0..1, got {}", opts.max_bad_fraction);
  SamplePipelineOptions po;
  po.image = in.image;
  po.seq_len = in.seq_len;
  po.split_long_text = in.split_long_text;
  const SamplePipeline pipeline(tok::SampleEncoder(in.tokenizer, in.tokens_per_tile), po);
  const int64_t threads =
      opts.threads > 0 ? opts.threads : std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));

  LintReport report;
  report.stage = in.stage;
  report.max_bad_fraction = opts.max_bad_fraction;
  report.seq_len = in.seq_len;
  report.tokens_per_tile = in.tokens_per_tile;
  try {
    report.mixture = compute_mixture_plan(in.mixture, in.sources);
  } catch (const mm::Error& e) {
    report.mixture_error = e.what();
  }
  auto log = log::get("lint");
  const Stopwatch all;
  for (const SourceConfig& sc : in.sources) {
    SourceLint s;
    s.config = sc;
    const Stopwatch watch;
    std::vector<QuarantineEntry> errors;
    std::unique_ptr<Source> src;
    try {
      src = open_source(sc);
    } catch (const mm::Error& e) {
      s.open_error = e.what();
    }
    if (src) {
      errors = src->open_issues();
      lint_records(*src, pipeline, threads, opts.progress_interval_s, s, errors);
    }
    s.bad = static_cast<int64_t>(errors.size());
    s.records = s.good + s.bad;
    for (const auto& e : errors) ++s.issues[static_cast<int>(classify(e))];
    s.seconds = watch.seconds();
    if (!s.open_error.empty() || s.good == 0)
      s.verdict = "unusable";
    else if (s.bad_fraction() > opts.max_bad_fraction)
      s.verdict = "fail";
    else
      s.verdict = "pass";
    log->debug("{}: {} records in {:.2f} s, {} bad, {}", sc.name, s.records, s.seconds, s.bad, s.verdict);
    for (auto& e : errors) report.quarantine.push_back(std::move(e));
    report.sources.push_back(std::move(s));
  }
  report.seconds = all.seconds();
  return report;
}

void write_quarantine(const LintReport& report, const std::string& path) {
  // One {source, id, kind, issue, reason} object per line: the quarantine kind the trainer's own
  // quarantine.jsonl uses, and the lint table's issue (its column in the console).
  std::string text;
  for (const auto& e : report.quarantine) text += to_json_line(e, to_string(classify(e))) + "\n";
  io::write_file_atomic(path, text);
}

}  // namespace mm::data
