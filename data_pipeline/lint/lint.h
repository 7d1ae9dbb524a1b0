// Pre-flight data lint (`mmtrain data lint`): reads every record of every source of one stage once,
// with the code training uses (format readers, SamplePipeline::encode, the tile budget), and
// reports per source what would be quarantined and why, the token statistics and the mixture's
// effective shares, with a pass/fail verdict. A recipe calls lint_data once per stage.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/data_config.h"
#include "core/config/image_config.h"
#include "core/config/mixture_config.h"
#include "data_pipeline/mixture/mixture_plan.h"
#include "data_pipeline/quarantine.h"
#include "tokenizer/tokenizer.h"

namespace mm {
struct RunConfig;
}

namespace mm::data {

// What is wrong with a bad record, as the lint table counts it (finer than QuarantineKind for
// the failures SamplePipeline reports as Other).
enum class LintIssue {
  Malformed,            // bad JSON, missing field, wrong type, empty text, WebDataset key without a member
  DamagedShard,         // truncated / corrupt tar shard or member
  MissingImage,         // an image file that does not exist or cannot be opened
  UnreadableImage,      // an image that does not decode (corrupt, truncated, not an image)
  OversizedImage,       // an image above image.max_pixels
  PlaceholderMismatch,  // "<image>" placeholders != images
  NoAssistantTurn,      // a conversation without an assistant turn
  BoxOutOfRange,        // a box off the 0..999 grid
  TooLong,              // would not fit the sequence length even with one tile per image
  NoLoss,               // no token would carry loss
  Other,
};
inline constexpr int kLintIssueCount = 11;
// "malformed", "damaged_shard", "missing_image", ...: a quarantine kind's own name where the two are
// one to one; "malformed" groups several kinds (bad_json, missing_field, wrong_type, ...).
const char* to_string(LintIssue issue);

// The lint category of a quarantine entry (its kind, and for kind Other the reason's wording as
// SamplePipeline / the tile budget / the image decoder write it).
LintIssue classify(const QuarantineEntry& e);

// What one stage trains on: the data section plus what encoding a sample depends on.
struct LintInputs {
  std::string stage;  // label in the report ("" for a single config)
  std::vector<SourceConfig> sources;
  MixtureConfig mixture;
  ImageConfig image;
  tok::Tokenizer tokenizer;     // loaded
  int64_t seq_len = 0;          // loader.seq_len
  int64_t tokens_per_tile = 0;  // model.connector.num_tokens
  bool split_long_text = true;  // loader.split_long_text
};

// The inputs of one run config (a recipe stage): data.sources, data.mixture, image, the tokenizer
// loaded from tokenizer.model_path, loader.seq_len / split_long_text, model.connector.num_tokens.
// Throws mm::Error when the config has no data.sources or no tokenizer.model_path.
LintInputs lint_inputs(const RunConfig& cfg, const std::string& stage = "");

struct LintOptions {
  double max_bad_fraction = 0.01;    // a source with more bad records than this fraction fails
  int64_t threads = 0;               // encoding threads (0: hardware concurrency)
  double progress_interval_s = 5.0;  // seconds between progress lines of a source (0: none)
};

// Distribution of tokens per good sample (after image expansion, before packing).
struct TokenStats {
  int64_t samples = 0;
  double mean = 0;
  int64_t p50 = 0, p99 = 0, max = 0;
  int64_t total = 0, loss = 0;  // all tokens / tokens that carry loss
  double loss_share() const { return total > 0 ? static_cast<double>(loss) / total : 0.0; }
};

struct SourceLint {
  SourceConfig config;
  std::string open_error;            // non-empty: the source could not be opened (unusable)
  int64_t records = 0;               // good + bad
  int64_t good = 0;                  // records that encode into a training sample
  int64_t bad = 0;                   // quarantined records (open-time and encode-time)
  int64_t images = 0;                // images referenced by the records that passed the index
  int64_t tiles = 0;                 // tiles of the good samples
  int64_t budgeted = 0;              // good samples that needed tile budgeting (fewer tiles than configured)
  int64_t chunked = 0;               // good text-only samples longer than seq_len (the packer cuts them)
  int64_t fraction_boxes = 0;        // good samples with images whose text holds [0.1, 0.2, 0.5, 0.6]-style
  std::string fraction_box_example;  // boxes (0-1 fractions: not boxes to mmtrain, they train as text)
  std::array<int64_t, kLintIssueCount> issues{};  // bad records per LintIssue
  TokenStats tokens;
  double seconds = 0;
  std::string verdict;  // pass | fail | unusable

  double bad_fraction() const { return records > 0 ? static_cast<double>(bad) / records : 0.0; }
  int64_t issue(LintIssue i) const { return issues[static_cast<int>(i)]; }
};

struct LintReport {
  std::string stage;
  std::vector<SourceLint> sources;     // in config order
  std::optional<MixturePlan> mixture;  // absent when the mixture does not resolve
  std::string mixture_error;
  std::vector<QuarantineEntry> quarantine;  // every bad record, by source: the reader's open-time
                                            // issues (file order), then read/encode failures (record order)
  double max_bad_fraction = 0.01;
  int64_t seq_len = 0, tokens_per_tile = 0;
  double seconds = 0;

  // Every source passes and the mixture resolves.
  bool ok() const;
  int64_t records() const;
  double records_per_s() const { return seconds > 0 ? records() / seconds : 0.0; }
  std::string to_table() const;  // readable, one row per source, then the mixture
  nlohmann::ordered_json to_json() const;
};

// Lints one stage. Never throws for bad data (an unopenable source is reported as unusable);
// throws mm::Error for a bad setup (no sources, tokenizer not loaded, seq_len <= 0).
LintReport lint_data(const LintInputs& in, const LintOptions& opts = {});

// Writes report.quarantine as quarantine.jsonl (replacing `path`), one {source, id, kind, issue,
// reason} object per line: `kind` as in the trainer's quarantine.jsonl, `issue` the lint table's name.
void write_quarantine(const LintReport& report, const std::string& path);

}  // namespace mm::data
