#include "eval/generation/word_probe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/check.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/loader/model_batch.h"
#include "data_pipeline/synth/scene.h"
#include "data_pipeline/synth/tasks.h"
#include "tokenizer/special_tokens.h"

namespace mm::gen {
namespace {

const std::string kWordStart = "\xE2\x96\x81";  // U+2581, SentencePiece's word-start marker

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool punctuation_only(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::ispunct(c) != 0; });
}

// A byte-fallback piece of white space: the newline between an image and its caption is "<0x0A>".
bool whitespace_byte(const std::string& s) { return s == "<0x09>" || s == "<0x0A>" || s == "<0x0D>" || s == "<0x20>"; }

double fraction(int64_t num, int64_t den) {
  return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : 0.0;
}

}  // namespace

bool WordGroup::contains(const std::string& word) const {
  return words.count(word) > 0 || (numbers && all_digits(word));
}

WordGroup parse_word_group(const std::string& spec) {
  const size_t eq = spec.find('=');
  MM_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(),
           "--group '{}': expected name=word,word,... ('#' for any number)", spec);
  WordGroup g;
  g.name = spec.substr(0, eq);
  size_t start = eq + 1;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string w = lower(spec.substr(start, comma - start));
    if (w == "#") {
      g.numbers = true;
    } else if (!w.empty()) {
      g.words.insert(w);
    }
    start = comma + 1;
  }
  MM_CHECK(g.numbers || !g.words.empty(), "--group '{}': no word after '='", spec);
  return g;
}

std::vector<WordGroup> synth_word_groups() {
  namespace synth = data::synth;
  return {
      {"colour", {synth::kColours.begin(), synth::kColours.end()}, false},
      {"shape", {synth::kKinds.begin(), synth::kKinds.end()}, false},
      {"position", {"top", "bottom", "left", "right", "centre"}, false},
      {"sign word", {synth::kSignWords.begin(), synth::kSignWords.end()}, false},
      {"number", {}, true},
  };
}

std::vector<TargetWord> split_target_words(const std::vector<std::string>& pieces, const std::vector<bool>& is_target) {
  MM_CHECK(pieces.size() == is_target.size(), "split_target_words: {} pieces but {} target flags", pieces.size(),
           is_target.size());
  std::vector<TargetWord> words;
  bool open = false;  // whether words.back() still takes pieces
  for (size_t t = 0; t < pieces.size(); ++t) {
    if (!is_target[t]) {
      open = false;
      continue;
    }
    std::string p = pieces[t];
    const bool starts = p.rfind(kWordStart, 0) == 0;
    if (starts) p = p.substr(kWordStart.size());
    if (punctuation_only(p) || whitespace_byte(p)) {
      open = false;
      continue;
    }
    if (starts || !open) {
      words.push_back({});
      open = true;
    }
    words.back().text += lower(p);
    words.back().tokens.push_back(static_cast<int64_t>(t));
  }
  words.erase(std::remove_if(words.begin(), words.end(), [](const TargetWord& w) { return w.text.empty(); }),
              words.end());
  return words;
}

void tally_word_predictions(const torch::Tensor& labels, const torch::Tensor& doc_ids, const torch::Tensor& pred,
                            const torch::Tensor& pred_other, const tok::Tokenizer& tokenizer,
                            const std::vector<WordGroup>& groups, WordProbeReport& report) {
  MM_CHECK(labels.dim() == 2 && labels.sizes() == pred.sizes() && pred.sizes() == pred_other.sizes() &&
               doc_ids.sizes() == labels.sizes(),
           "tally_word_predictions: labels, doc_ids and predictions must be (B, T) alike");
  if (report.groups.empty())
    for (const auto& g : groups) report.groups.push_back({g.name});
  MM_CHECK(report.groups.size() == groups.size(), "tally_word_predictions: the report holds {} groups, not {}",
           report.groups.size(), groups.size());
  const auto lab = labels.to(torch::kLong).contiguous();
  const auto doc = doc_ids.to(torch::kLong).contiguous();
  const auto p0 = pred.to(torch::kLong).contiguous();
  const auto p1 = pred_other.to(torch::kLong).contiguous();
  const int64_t rows = lab.size(0), len = lab.size(1);
  const auto symbols = tok::special_symbols(tokenizer.config());
  const std::set<std::string> specials(symbols.begin(), symbols.end());
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t* y = lab[b].data_ptr<int64_t>();
    const int64_t* d = doc[b].data_ptr<int64_t>();
    const int64_t* a = p0[b].data_ptr<int64_t>();
    const int64_t* o = p1[b].data_ptr<int64_t>();
    std::vector<std::string> pieces(static_cast<size_t>(len));
    std::vector<bool> target(static_cast<size_t>(len), false);
    // A target at t is predicted at t - 1 of the same document (the loss's own rule). Control
    // pieces (eos) and the template's symbols (turn end) are no words and end one.
    for (int64_t t = 1; t < len; ++t) {
      if (y[t] < 0 || d[t] < 0 || d[t] != d[t - 1]) continue;
      const auto id = static_cast<int32_t>(y[t]);
      std::string piece = tokenizer.id_to_piece(id);
      if (tokenizer.is_control(id) || specials.count(piece) > 0) continue;
      target[static_cast<size_t>(t)] = true;
      pieces[static_cast<size_t>(t)] = std::move(piece);
    }
    for (const TargetWord& w : split_target_words(pieces, target)) {
      ++report.target_words;
      bool right = true, right_other = true;
      for (int64_t t : w.tokens) {
        right = right && a[t - 1] == y[t];
        right_other = right_other && o[t - 1] == y[t];
      }
      for (size_t g = 0; g < groups.size(); ++g) {
        if (!groups[g].contains(w.text)) continue;
        auto& s = report.groups[g];
        ++s.words;
        s.right += right ? 1 : 0;
        s.right_other_images += right_other ? 1 : 0;
      }
    }
  }
}

WordProbeReport probe_words(MultimodalModel& model, data::Loader& loader, const tok::Tokenizer& tokenizer,
                            const std::vector<WordGroup>& groups, int64_t batches) {
  MM_CHECK(batches > 0, "probe_words: batches must be positive, got {}", batches);
  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  WordProbeReport report;  // tally_word_predictions adds the groups
  for (int64_t i = 0; i < batches; ++i) {
    data::Batch batch = loader.next();
    MultimodalBatch mb = data::to_model_batch(batch);
    const torch::Tensor pred = model->forward(mb).logits.argmax(-1);
    torch::Tensor pred_other = pred;
    if (batch.num_tiles() > 1) {
      // Half the batch's tiles away: another picture, not the next tile of the same split image.
      mb.tiles = torch::roll(batch.tiles, {std::max<int64_t>(1, batch.num_tiles() / 2)}, {0}).contiguous();
      pred_other = model->forward(mb).logits.argmax(-1);
    }
    tally_word_predictions(batch.labels, batch.doc_ids, pred, pred_other, tokenizer, groups, report);
    report.images += batch.images;
    ++report.batches;
  }
  model->train(was_training);
  return report;
}

std::string word_probe_markdown(const WordProbeReport& r) {
  std::string out = fmt::format(
      "Teacher-forced whole-word accuracy, {} batches, {} images, {} target words\n\n"
      "| words | count | own images | other images | read from the image |\n|---|---:|---:|---:|---:|\n",
      r.batches, r.images, r.target_words);
  for (const auto& g : r.groups) {
    if (g.words == 0) {
      out += fmt::format("| {} | 0 | | | |\n", g.name);
      continue;
    }
    const double own = fraction(g.right, g.words), other = fraction(g.right_other_images, g.words);
    out += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:+.1f} |\n", g.name, g.words, 100 * own, 100 * other,
                       100 * (own - other));
  }
  return out;
}

nlohmann::json word_probe_json(const WordProbeReport& r) {
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& g : r.groups)
    groups[g.name] = {{"words", g.words},
                      {"accuracy", fraction(g.right, g.words)},
                      {"accuracy_other_images", fraction(g.right_other_images, g.words)}};
  return {{"batches", r.batches}, {"images", r.images}, {"target_words", r.target_words}, {"groups", groups}};
}

}  // namespace mm::gen
