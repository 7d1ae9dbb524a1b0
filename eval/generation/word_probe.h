// word_probe: which words of the training text a model predicts from the picture. Teacher-forced
// next-token predictions on a config's data stream, scored per whole word and grouped (colours,
// shape kinds, positions, sign words, numbers...), once with each sample's own images and once with
// the batch's tiles rotated by half their number (every image slot gets a tile of another picture
// of the batch, also when pictures are split into several tiles). The gap between the two is
// what the model reads from the image rather than guesses from the text. `mmtrain probe` prints it;
// docs/evaluation.md explains when to use it (a pretraining checkpoint cannot answer eval questions,
// but its captions say whether it sees shapes, colours or glyphs yet).
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/mllm.h"
#include "tokenizer/tokenizer.h"

namespace mm::data {
class Loader;
}

namespace mm::gen {

struct WordGroup {
  std::string name;
  std::set<std::string> words;  // lower case
  bool numbers = false;         // also every all-digit word ("#" in a spec)
  bool contains(const std::string& word) const;
};

// "name=w1,w2,..." (lower-cased; "#" stands for any number). Throws mm::Error with one line naming
// the spec when it has no '=', no name or no word.
WordGroup parse_word_group(const std::string& spec);

// The synthetic world's vocabulary (data_pipeline/synth): colour, shape, position, sign word, number.
std::vector<WordGroup> synth_word_groups();

// A word of a row's loss targets: its text (lower case, without the U+2581 marker) and the row
// positions of its pieces.
struct TargetWord {
  std::string text;
  std::vector<int64_t> tokens;
};

// Splits the target positions of a row into words. pieces[t] is the piece at t, is_target[t] says
// whether t is a loss target. A word starts at a piece that begins with U+2581 (a lone U+2581 piece
// starts a word and adds no text, but its token is the word's first), after a piece of punctuation
// only or a byte piece of white space ("<0x0A>", as between an image and its caption), or after a
// non-target; such separators belong to no word. Words without text are dropped.
std::vector<TargetWord> split_target_words(const std::vector<std::string>& pieces, const std::vector<bool>& is_target);

struct WordGroupScore {
  std::string name;
  int64_t words = 0;               // words of the group among the targets
  int64_t right = 0;               // every piece predicted (argmax) right, own images
  int64_t right_other_images = 0;  // the same with the batch's tiles rotated by half their number
};

struct WordProbeReport {
  std::vector<WordGroupScore> groups;  // in the order given
  int64_t batches = 0;
  int64_t target_words = 0;  // all target words seen, in a group or not
  int64_t images = 0;        // images (not tiles) seen
};

// Tallies one batch's predictions into `report` (groups in the same order as `groups`). ids and
// labels are (B, T); pred and pred_other are (B, T) argmax ids, pred[b][t] predicting position
// t + 1. A word counts right when each of its pieces is.
void tally_word_predictions(const torch::Tensor& labels, const torch::Tensor& doc_ids, const torch::Tensor& pred,
                            const torch::Tensor& pred_other, const tok::Tokenizer& tokenizer,
                            const std::vector<WordGroup>& groups, WordProbeReport& report);

// Runs `batches` batches of `loader` through `model` (eval mode, no autograd; its mode is
// restored) and tallies them. Batches without images count the same prediction twice.
WordProbeReport probe_words(MultimodalModel& model, data::Loader& loader, const tok::Tokenizer& tokenizer,
                            const std::vector<WordGroup>& groups, int64_t batches);

std::string word_probe_markdown(const WordProbeReport& report);
nlohmann::json word_probe_json(const WordProbeReport& report);

}  // namespace mm::gen
