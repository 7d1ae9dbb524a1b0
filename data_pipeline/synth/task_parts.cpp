// Building blocks the synthetic tasks share (task_parts.h): word lists, shape lists, rendered
// documents, receipts, signs.
#include "data_pipeline/synth/task_parts.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include <algorithm>

namespace mm::data::synth::parts {

const std::vector<std::string> kKeys = {"total", "date", "room", "code", "price",
                                        "items", "page", "tax",  "seat", "gate"};
const std::vector<std::string> kFood = {"tea", "rice", "milk", "fish", "bread", "apple", "soup", "cake", "egg", "jam"};
const std::vector<std::string> kNumberWords = {"zero", "one", "two",   "three", "four",
                                               "five", "six", "seven", "eight", "nine"};

std::string plural(const std::string& kind) { return kind + "s"; }

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// "a red circle, a blue square and a green star"
std::string list_shapes(const std::vector<Shape>& shapes, const cv::Mat& img, bool with_place) {
  std::vector<std::string> parts;
  for (const auto& s : shapes) {
    std::string p = "a " + s.name();
    if (with_place) p += " at the " + region_words(s.cx, s.cy, img.cols, img.rows);
    parts.push_back(p);
  }
  if (parts.size() == 1) return parts[0];
  const std::string last = parts.back();
  parts.pop_back();
  return join(parts, ", ") + " and " + last;
}

SceneSpec scene_spec(const World& w, int min_shapes, int max_shapes) {
  SceneSpec s = w.shapes;
  s.width = s.height = w.scene;
  s.min_shapes = min_shapes;
  s.max_shapes = max_shapes;
  return s;
}

// One long single-image question: the placeholder goes first, then the question.
Qa single(cv::Mat img, std::string question, std::string answer, std::string task) {
  Qa qa;
  qa.images.push_back(std::move(img));
  qa.turns.push_back({"<image>\n" + question, answer});
  qa.answers = {answer};
  qa.task = std::move(task);
  return qa;
}

// key: value document lines with distinct keys.
std::vector<std::pair<std::string, std::string>> document_fields(CounterRng& rng, int n) {
  std::vector<std::string> keys = kKeys;
  std::vector<std::pair<std::string, std::string>> fields;
  for (int i = 0; i < n && !keys.empty(); ++i) {
    const size_t k = rng.below(keys.size());
    fields.push_back({keys[k], std::to_string(rng.range(1, 999))});
    keys.erase(keys.begin() + static_cast<long>(k));
  }
  return fields;
}

// A receipt page: at least 2.5 times as tall as it is wide (blank paper below the total).
cv::Mat receipt_image(const Receipt& r, const World& w) {
  cv::Mat img = render_lines(r.lines, w.text);
  const int min_h = img.cols * 5 / 2;
  if (img.rows < min_h)
    cv::copyMakeBorder(img, img, 0, min_h - img.rows, 0, 0, cv::BORDER_CONSTANT, img.at<cv::Vec3b>(0, 0));
  return img;
}

Receipt receipt_lines(CounterRng& rng, const World& w) {
  Receipt r;
  const int n = static_cast<int>(rng.range(3, 6));
  std::vector<std::string> food = kFood;
  r.lines.push_back("receipt " + std::to_string(rng.range(10, 99)));
  for (int i = 0; i < n; ++i) {
    const int price = static_cast<int>(rng.range(1, 30));
    r.lines.push_back(food[rng.below(food.size())] + " " + std::to_string(price));
    r.total += price;
  }
  r.lines.push_back("total " + std::to_string(r.total));
  (void)w;
  return r;
}

std::vector<std::pair<std::string, std::string>> strip_fields(CounterRng& rng) {
  return document_fields(rng, static_cast<int>(rng.range(3, 4)));
}

cv::Mat strip_image(const std::vector<std::pair<std::string, std::string>>& f, const World& w) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : f) parts.push_back(k + " " + v);
  return render_lines({join(parts, "  ")}, w.text);
}

cv::Mat document_image(const std::vector<std::pair<std::string, std::string>>& f, const World& w) {
  std::vector<std::string> lines;
  for (const auto& [k, v] : f) lines.push_back(k + ": " + v);
  return render_lines(lines, w.text, w.tile + w.tile / 2);
}

cv::Mat sign_image(CounterRng& rng, const World& w, const std::string& word) {
  return render_sign(rng, word, w.text, w.scene, w.scene);
}

int count_kind(const std::vector<Shape>& shapes, int kind) {
  return static_cast<int>(std::count_if(shapes.begin(), shapes.end(), [&](const Shape& s) { return s.kind == kind; }));
}

// The last phrasing of every fact is reserved for evaluation; the others train.
int fact_phrasing(CounterRng& rng, const World& w, size_t phrasings) {
  return w.eval ? static_cast<int>(phrasings - 1) : static_cast<int>(rng.below(phrasings - 1));
}

}  // namespace mm::data::synth::parts
