// Chance levels of the eval JSON (Evaluator) and the run report: the "majority-answer baseline",
// the score of the best constant answer a model could give without looking at the question,
// computed with each benchmark's own metric (eval/metrics/score.h):
//  - multiple_choice: the expected score of a uniformly random letter, mean of 1/#choices;
//  - every other accuracy metric (vqa_accuracy, anls, exact_match, iou@0.5): the mean score of
//    always answering the most frequent reference answer (counted once per item that lists it,
//    after trimming/lowercasing; ties -> the one seen first in file order);
//  - iou@0.5 also tries every box with corners on a 50-unit grid of 0..999 (0, 50, ..., 950, 999)
//    and takes the better of the two: boxes rarely repeat exactly, but a box in the middle of
//    where objects usually are scores;
//  - perplexity: none.
// A category's chance is the plain mean over its accuracy benchmarks, as aggregate() averages
// category scores (eval/eval_report.cpp).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/eval_item.h"

namespace mm::eval {

// The most frequent reference answer of `items` (raw text of its first occurrence); "" if none.
std::string majority_answer(const std::vector<EvalItem>& items);

// iou@0.5: the share of items whose reference box (any of them) reaches IoU >= 0.5 with the best
// single box with corners on the 50-unit grid above (0 for no items).
double best_constant_box(const std::vector<EvalItem>& items);

// The baseline of one benchmark's items (all share one metric); nullopt for perplexity or no items.
std::optional<double> majority_baseline(const std::vector<EvalItem>& items);

struct ChanceLevels {
  std::map<std::string, double> benchmarks;  // benchmark -> baseline
  std::map<std::string, double> categories;  // category -> mean over its accuracy benchmarks
  std::optional<double> mmbase;              // mean(general, text-rich, knowledge) over those present
};

// Groups `items` by benchmark (keeping the first `max_items` of each in order, 0 = all, as the
// Evaluator does) and computes the baselines.
ChanceLevels chance_levels(const std::vector<EvalItem>& items, int64_t max_items = 0);

// Reads the eval-set files (docs/evaluation.md) and computes chance_levels over all their items.
ChanceLevels chance_levels_of_sets(const std::vector<std::string>& paths, int64_t max_items = 0,
                                   bool check_images = false);

}  // namespace mm::eval
