// The synthetic SFT tasks, one function per capability category (tasks.h).
#include "data_pipeline/synth/tasks.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/check.h"
#include "data_pipeline/synth/task_parts.h"

namespace mm::data::synth {

using namespace parts;  // NOLINT(google-build-using-namespace): this file's building blocks

// ---------------------------------------------------------------- SFT

Qa make_general(CounterRng& rng, const World& w, int task) {
  if (task < 0) task = static_cast<int>(rng.below(6));
  Scene sc = make_scene(rng, scene_spec(w, 1, 4));
  const auto& shapes = sc.shapes;
  const Shape& s = shapes[rng.below(shapes.size())];
  Qa qa;
  switch (task) {
    case 0: {  // colour of a kind; when several share the kind, name the region
      const bool unique = count_kind(shapes, s.kind) == 1;
      const std::string where = unique ? "" : " at the " + region_words(s.cx, s.cy, sc.image.cols, sc.image.rows);
      if (!unique) {  // the region must identify it
        for (const auto& o : shapes)
          if (&o != &s && o.kind == s.kind &&
              region_words(o.cx, o.cy, sc.image.cols, sc.image.rows) ==
                  region_words(s.cx, s.cy, sc.image.cols, sc.image.rows))
            return make_general(rng, w, 2);
      }
      qa = single(sc.image, "What colour is the " + kKinds[s.kind] + where + "?", kColours[s.colour], "colour");
      break;
    }
    case 1: {
      int same_colour = 0;
      for (const auto& o : shapes) same_colour += o.colour == s.colour;
      if (same_colour > 1) return make_general(rng, w, 2);
      qa = single(sc.image, "What shape is the " + kColours[s.colour] + " one?", kKinds[s.kind], "kind");
      break;
    }
    case 2:
      qa = single(sc.image, "How many shapes are there?", std::to_string(shapes.size()), "count");
      break;
    case 3: {
      const int k = static_cast<int>(rng.below(kKinds.size()));
      qa = single(sc.image, "How many " + plural(kKinds[k]) + " are there?", std::to_string(count_kind(shapes, k)),
                  "count_kind");
      break;
    }
    case 4: {
      const bool left = s.cx < sc.image.cols / 2;
      qa = single(sc.image, "Is the " + s.name() + " on the left or on the right?", left ? "left" : "right", "side");
      break;
    }
    default: {
      const int k = static_cast<int>(rng.below(kKinds.size())), c = static_cast<int>(rng.below(kColours.size()));
      bool has = false;
      for (const auto& o : shapes) has |= (o.kind == k && o.colour == c);
      if (rng.chance(0.5)) {  // keep yes and no balanced: half the questions name a drawn shape
        qa = single(sc.image, "Is there a " + s.name() + "?", "yes", "exists");
      } else {
        qa = single(sc.image, "Is there a " + kColours[c] + " " + kKinds[k] + "?", has ? "yes" : "no", "exists");
      }
    }
  }
  // Training gets a second turn about the same picture.
  qa.turns.push_back({"How many shapes are there?", std::to_string(shapes.size())});
  if (qa.task == "count") qa.turns.back() = {"Describe the picture.", list_shapes(shapes, sc.image, true) + "."};
  return qa;
}

Qa make_text_rich(CounterRng& rng, const World& w, int task) {
  if (task < 0) {
    if (rng.chance(w.odd_aspect))
      task = rng.chance(0.5) ? 1 : 2;
    else
      task = rng.chance(0.6) ? 0 : 3;
  }
  switch (task) {
    case 0: {
      auto f = document_fields(rng, static_cast<int>(rng.range(2, 4)));
      const auto& [k, v] = f[rng.below(f.size())];
      Qa qa = single(document_image(f, w), "What is the " + k + " on the document?", v, "document");
      const auto& [k2, v2] = f[rng.below(f.size())];
      qa.turns.push_back({"And the " + k2 + "?", v2});
      return qa;
    }
    case 1: {
      const Receipt r = receipt_lines(rng, w);
      Qa qa = single(receipt_image(r, w), "What is the total on the receipt?", std::to_string(r.total), "receipt");
      qa.turns.push_back({"What is the first item?", r.lines[1].substr(0, r.lines[1].find(' '))});
      return qa;
    }
    case 2: {
      auto f = strip_fields(rng);
      const auto& [k, v] = f[rng.below(f.size())];
      return single(strip_image(f, w), "What is the " + k + " number?", v, "strip");
    }
    default: {
      const std::string word = rng.chance(0.6) ? rng.pick(kSignWords) : std::to_string(rng.range(1, 999));
      return single(sign_image(rng, w, word), "What does the sign say?", word, "sign");
    }
  }
}

Qa make_refer_ground(CounterRng& rng, const World& w, int task) {
  if (task < 0) task = static_cast<int>(rng.below(2));
  SceneSpec spec = scene_spec(w, 2, 4);
  spec.unique_colours = true;
  if (rng.chance(w.odd_aspect)) {  // wide or tall scenes: the grid is of the whole image
    if (rng.chance(0.5))
      spec.width = w.scene * 2, spec.height = w.scene * 2 / 3;
    else
      spec.width = w.scene * 2 / 3, spec.height = w.scene * 2;
  }
  Scene sc = make_scene(rng, spec);
  const Shape& s = sc.shapes[rng.below(sc.shapes.size())];
  const std::string box = box_text(grid_box(s.box, sc.image.cols, sc.image.rows));
  if (task == 0) {
    Qa qa = single(sc.image, "Where is the " + s.name() + "? Answer with a box.", box, "ground");
    const size_t n = sc.shapes.size(), si = static_cast<size_t>(&s - sc.shapes.data());
    const Shape& o = n == 1 ? s : sc.shapes[(si + 1 + rng.below(n - 1)) % n];  // another shape
    qa.turns.push_back({"And the " + o.name() + "?", box_text(grid_box(o.box, sc.image.cols, sc.image.rows))});
    return qa;
  }
  Qa qa = single(sc.image, "What is the object at " + box + "?", s.name(), "refer");
  qa.turns.push_back({"What colour is it?", kColours[s.colour]});
  return qa;
}

Qa make_knowledge(CounterRng& rng, const World& w, int task) {
  if (task < 0) task = static_cast<int>(rng.below(3));
  if (task == 0) {
    SceneSpec spec = scene_spec(w, 2, 6);
    spec.unique_pairs = false;
    spec.min_r *= 0.75, spec.max_r *= 0.75;  // up to six shapes
    Scene sc = make_scene(rng, spec);
    const int a = static_cast<int>(rng.below(kKinds.size()));
    int b = static_cast<int>(rng.below(kKinds.size() - 1));
    if (b >= a) ++b;
    const int total = count_kind(sc.shapes, a) + count_kind(sc.shapes, b);
    return single(sc.image, "How many " + plural(kKinds[a]) + " and " + plural(kKinds[b]) + " are there in total?",
                  std::to_string(total), "count_add");
  }
  if (task == 1) {
    // Two shapes of different colours and clearly different sizes.
    SceneSpec spec = scene_spec(w, 2, 2);
    spec.unique_colours = true;
    for (int attempt = 0; attempt < 50; ++attempt) {
      Scene sc = make_scene(rng, spec);
      if (sc.shapes.size() < 2) continue;
      const Shape &x = sc.shapes[0], &y = sc.shapes[1];
      if (std::max(x.r, y.r) < 1.5 * std::min(x.r, y.r)) continue;
      const bool first_bigger = x.r > y.r;
      Qa qa = single(sc.image,
                     "Which is bigger?\nA. the " + x.name() + "\nB. the " + y.name() + "\nAnswer with the letter.",
                     first_bigger ? "A" : "B", "compare");
      qa.choices = {"the " + x.name(), "the " + y.name()};
      return qa;
    }
    return make_knowledge(rng, w, 0);
  }
  const int a = static_cast<int>(rng.range(0, 9)), b = static_cast<int>(rng.range(0, 9));
  TextStyle big = w.text;
  big.cap_px *= 1.3;
  cv::Mat img = render_lines({std::to_string(a) + " + " + std::to_string(b) + " = ?"}, big, w.tile);
  return single(img, "What is the answer to the sum?", std::to_string(a + b), "rendered_sum");
}

Qa make_multi_image(CounterRng& rng, const World& w, int task) {
  if (task < 0) task = static_cast<int>(rng.below(4));
  const int n = task == 2 ? 2 : static_cast<int>(rng.range(2, 3));
  SceneSpec spec = scene_spec(w, 1, 4);
  spec.width = spec.height = std::max(w.tile, w.scene * 3 / 4);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<Scene> scenes;
    for (int i = 0; i < n; ++i) scenes.push_back(make_scene(rng, spec));
    std::string prompt;
    for (int i = 0; i < n; ++i) prompt += "Image " + std::to_string(i + 1) + ": <image>\n";
    const std::string which = n == 2 ? "Answer 1 or 2." : "Answer 1, 2 or 3.";
    std::string question, answer;
    if (task == 0) {
      std::vector<size_t> counts;
      for (const auto& s : scenes) counts.push_back(s.shapes.size());
      const size_t best = std::max_element(counts.begin(), counts.end()) - counts.begin();
      if (std::count(counts.begin(), counts.end(), counts[best]) != 1) continue;
      question = "Which image has more shapes? " + which;
      answer = std::to_string(best + 1);
    } else if (task == 1) {
      const size_t img = rng.below(scenes.size());
      const Shape& s = scenes[img].shapes[rng.below(scenes[img].shapes.size())];
      int holders = 0;
      for (const auto& sc : scenes)
        for (const auto& o : sc.shapes) holders += (o.kind == s.kind && o.colour == s.colour);
      if (holders != 1) continue;
      question = "Which image has the " + s.name() + "? " + which;
      answer = std::to_string(img + 1);
    } else if (task == 2) {
      const int c = static_cast<int>(rng.below(kColours.size()));
      auto has = [&](const Scene& sc) {
        return std::any_of(sc.shapes.begin(), sc.shapes.end(), [&](const Shape& s) { return s.colour == c; });
      };
      const bool both = has(scenes[0]) && has(scenes[1]);
      if (!both && !has(scenes[0]) && !has(scenes[1]) && rng.chance(0.7)) continue;  // fewer trivial "no"s
      question = "Do both images have a " + kColours[c] + " shape? Answer yes or no.";
      answer = both ? "yes" : "no";
    } else {
      std::set<int> common;
      for (const auto& s : scenes[0].shapes) common.insert(s.colour);
      for (size_t i = 1; i < scenes.size(); ++i) {
        std::set<int> here, keep;
        for (const auto& s : scenes[i].shapes) here.insert(s.colour);
        for (int c : common)
          if (here.count(c)) keep.insert(c);
        common = keep;
      }
      if (common.size() != 1) continue;
      question = "Which colour is in every image?";
      answer = kColours[*common.begin()];
    }
    Qa qa;
    for (auto& s : scenes) qa.images.push_back(s.image);
    qa.turns.push_back({prompt + question, answer});
    qa.answers = {answer};
    qa.task = std::vector<std::string>{"more_shapes", "which_has", "both_colour", "common_colour"}[task];
    return qa;
  }
  return make_multi_image(rng, w, 0);
}

Qa make_text_only(CounterRng& rng, const World& w, int task) {
  if (task < 0) task = rng.chance(0.7) ? 0 : 1;
  Qa qa;
  qa.task = task == 0 ? "arithmetic" : "fact";
  std::string q, a;
  if (task == 0) {
    for (int attempt = 0;; ++attempt) {
      const int op = static_cast<int>(rng.below(3));
      int x = static_cast<int>(op == 2 ? rng.range(0, 9) : rng.range(0, 20));
      int y = static_cast<int>(op == 2 ? rng.range(0, 9) : rng.range(0, 20));
      if (op == 1 && y > x) std::swap(x, y);
      if (held_out_problem(op, x, y) != w.eval) continue;
      static const char* words[] = {"plus", "minus", "times"};
      static const char* signs[] = {"+", "-", "*"};
      const int r = op == 0 ? x + y : (op == 1 ? x - y : x * y);
      if (rng.chance(0.5))
        q = fmt::format("What is {} {} {}?", x, words[op], y);
      else
        q = fmt::format("Compute {} {} {}.", x, signs[op], y);
      a = std::to_string(r);
      break;
    }
  } else {
    // Nine facts in three families. Each family asks in five phrasings: four train, the fifth is
    // only asked in evaluation, so a model must answer from the content words ("sides",
    // "triangle"), not from a memorised question. ({0}: the fact's subject, {1}: what is counted.)
    static const std::vector<std::vector<std::string>> families = {
        {"How many {1} does a {0} have?", "A {0} has how many {1}?", "Tell me the number of {1} of a {0}.",
         "What is the number of {1} on a {0}?", "Count the {1} of a {0}."},
        {"What do {0} make?", "Mix {0}: which colour?", "Which colour do you get from {0}?",
         "What colour is made from {0}?", "Which colour comes from {0}?"},
        {"What is the opposite of {0}?", "{0} is the opposite of what?", "Give the opposite of {0}.",
         "Which word is the opposite of {0}?", "Name the opposite of {0}."},
    };
    struct Fact {
      size_t family;
      std::string subject, counted, answer;
    };
    static const std::vector<Fact> facts = {
        {0, "triangle", "sides", "3"},
        {0, "square", "sides", "4"},
        {0, "star", "points", "5"},
        {1, "red and blue", "", "purple"},
        {1, "red and yellow", "", "orange"},
        {1, "blue and yellow", "", "green"},
        {2, "left", "", "right"},
        {2, "top", "", "bottom"},
        {2, "big", "", "small"},
    };
    const Fact& f = rng.pick(facts);
    const auto& phrasings = families[f.family];
    q = fmt::format(fmt::runtime(phrasings[static_cast<size_t>(fact_phrasing(rng, w, phrasings.size()))]), f.subject,
                    f.counted);
    q[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(q[0])));
    a = f.answer;
  }
  qa.turns.push_back({q, a});
  qa.answers = {a};
  return qa;
}

}  // namespace mm::data::synth
