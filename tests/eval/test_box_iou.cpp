// Grounding: box parsing rules and IoU edge cases.
#include <catch2/catch.hpp>

#include "core/check.h"
#include "eval/metrics/box_iou.h"

using namespace mm::eval;

namespace {
void check_box(const std::string& text, double x1, double y1, double x2, double y2) {
  INFO(text);
  const auto b = parse_box(text);
  REQUIRE(b.has_value());
  CHECK(b->x1 == x1);
  CHECK(b->y1 == y1);
  CHECK(b->x2 == x2);
  CHECK(b->y2 == y2);
}
}  // namespace

TEST_CASE("parse_box: the first well-formed [x1, y1, x2, y2] group", "[eval][iou]") {
  check_box("[10, 20, 110, 220]", 10, 20, 110, 220);
  check_box("The cat is at [10,20,110,220].", 10, 20, 110, 220);
  check_box("[ 0 , 0 , 999 , 999 ]", 0, 0, 999, 999);
  check_box("[110, 220, 10, 20]", 10, 20, 110, 220);                       // swapped corners normalised
  check_box("[0, 0, 100, 100] and [500, 500, 600, 600]", 0, 0, 100, 100);  // several: the first
  check_box("the [red] one: [1, 2, 3, 4]", 1, 2, 3, 4);                    // a group without commas is text
  check_box("[[5, 6, 7, 8]]", 5, 6, 7, 8);
}

TEST_CASE("parse_box: no box and malformed boxes", "[eval][iou]") {
  std::string why;
  CHECK_FALSE(parse_box("a cat on the left", &why).has_value());
  CHECK(why.find("no [x1, y1, x2, y2] box") != std::string::npos);
  CHECK_FALSE(parse_box("[1, 2, 3]", &why).has_value());
  CHECK(why.find("3 numbers, expected 4") != std::string::npos);
  for (const char* bad : {"[1.5, 2, 3, 4]", "[a, 2, 3, 4]", "[1000, 0, 5, 5]", "[-1, 0, 5, 5]", "[1, 2, 3, 4, 5]",
                          "[1, , 3, 4]", "[12, abc, 3, 4] [1, 2, 3, 4]", "[1, 2, 3, 4"}) {
    INFO(bad);
    CHECK_FALSE(parse_box(bad).has_value());
  }
}

TEST_CASE("box IoU", "[eval][iou]") {
  const Box a{0, 0, 100, 100};
  CHECK(box_iou(a, a) == 1.0);
  CHECK(box_iou(a, {200, 200, 300, 300}) == 0.0);
  CHECK(box_iou(a, {100, 0, 200, 100}) == 0.0);               // sharing an edge only
  CHECK(box_iou(a, {50, 0, 150, 100}) == Approx(1.0 / 3.0));  // 5000 / 15000
  CHECK(box_iou(a, {25, 25, 75, 75}) == Approx(0.25));        // contained
  CHECK(box_iou({5, 5, 5, 5}, {5, 5, 5, 5}) == 0.0);          // degenerate: empty union
}

TEST_CASE("accuracy at IoU >= 0.5", "[eval][iou]") {
  CHECK(iou_accuracy("[0, 0, 100, 100]", {"[0, 0, 100, 50]"}) == 1.0);   // IoU exactly 0.5 counts
  CHECK(iou_accuracy("[0, 0, 100, 100]", {"[0, 0, 100, 49]"}) == 0.0);   // 0.49
  CHECK(iou_accuracy("[100, 100, 0, 0]", {"[0, 0, 100, 100]"}) == 1.0);  // swapped corners
  CHECK(iou_accuracy("nothing here", {"[0, 0, 100, 100]"}) == 0.0);
  CHECK(iou_accuracy("[0, 0, 100]", {"[0, 0, 100, 100]"}) == 0.0);
  CHECK(iou_accuracy("[500, 500, 600, 600] [0, 0, 100, 100]", {"[0, 0, 100, 100]"}) == 0.0);    // first box counts
  CHECK(iou_accuracy("[0, 0, 100, 100]", {"[500, 500, 600, 600]", "[0, 0, 90, 100]"}) == 1.0);  // any reference
  CHECK_THROWS_AS(iou_accuracy("[0, 0, 1, 1]", {"no box"}), mm::Error);
}
