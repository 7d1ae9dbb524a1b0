// Building blocks the synthetic tasks share (tasks.cpp: pretraining and OCR; sft_tasks.cpp: the SFT
// categories): word lists, shape lists, rendered documents, receipts and signs. Internal to synth/.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <utility>
#include <vector>

#include "data_pipeline/synth/scene.h"
#include "data_pipeline/synth/tasks.h"

namespace mm::data::synth::parts {

extern const std::vector<std::string> kKeys;         // document field names
extern const std::vector<std::string> kFood;         // receipt items
extern const std::vector<std::string> kNumberWords;  // "zero" .. "nine"

std::string plural(const std::string& kind);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
// "a red circle, a blue square and a green star"
std::string list_shapes(const std::vector<Shape>& shapes, const cv::Mat& img, bool with_place);
SceneSpec scene_spec(const World& w, int min_shapes, int max_shapes);
// One long single-image question: the placeholder goes first, then the question.
Qa single(cv::Mat img, std::string question, std::string answer, std::string task);
// key: value document lines with distinct keys.
std::vector<std::pair<std::string, std::string>> document_fields(CounterRng& rng, int n);

struct Receipt {
  std::vector<std::string> lines;
  int total = 0;
};
// A receipt page: at least 2.5 times as tall as it is wide (blank paper below the total).
cv::Mat receipt_image(const Receipt& r, const World& w);
Receipt receipt_lines(CounterRng& rng, const World& w);

std::vector<std::pair<std::string, std::string>> strip_fields(CounterRng& rng);
cv::Mat strip_image(const std::vector<std::pair<std::string, std::string>>& f, const World& w);
cv::Mat document_image(const std::vector<std::pair<std::string, std::string>>& f, const World& w);
cv::Mat sign_image(CounterRng& rng, const World& w, const std::string& word);
int count_kind(const std::vector<Shape>& shapes, int kind);
// The last phrasing of every fact is reserved for evaluation; the others train.
int fact_phrasing(CounterRng& rng, const World& w, size_t phrasings);

}  // namespace mm::data::synth::parts
