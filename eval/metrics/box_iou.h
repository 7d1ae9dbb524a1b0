// Grounding accuracy: a box [x1, y1, x2, y2] on the 0..999 grid parsed from an answer, and IoU.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace mm::eval {

struct Box {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // x1 <= x2, y1 <= y2 after parsing
};

// The box an answer gives, or nullopt with `why` set. Rules:
//  - the candidate is the first bracket group "[...]" that contains a comma and no inner bracket
//    (text such as "[red]" is skipped; with several boxes the first one counts);
//  - it must hold exactly four comma-separated integers in 0..999 (spaces allowed) -- anything
//    else ("[1, 2, 3]", "[1.5, 2, 3, 4]", "[a, 2, 3, 4]", "[1200, 0, 5, 5]") is malformed;
//  - swapped corners are normalised ([50, 60, 10, 20] is the box [10, 20, 50, 60]).
std::optional<Box> parse_box(const std::string& text, std::string* why = nullptr);

// Intersection over union; 0 when the union is empty (two degenerate boxes).
double box_iou(const Box& a, const Box& b);

// The IoU an answer's box must reach for the iou@0.5 metric (and its chance level, eval/chance.h).
inline constexpr double kIouThreshold = 0.5;

// 1 when the prediction's box reaches IoU >= threshold with any reference box, else 0
// (no box or a malformed one: 0). References must parse.
double iou_accuracy(const std::string& prediction, const std::vector<std::string>& references,
                    double threshold = kIouThreshold);

}  // namespace mm::eval
