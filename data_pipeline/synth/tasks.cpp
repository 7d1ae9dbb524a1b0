#include "data_pipeline/synth/tasks.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/check.h"

namespace mm::data::synth {

namespace {

const std::vector<std::string> kKeys = {"total", "date", "room", "code", "price", "items", "page", "tax", "seat", "gate"};
const std::vector<std::string> kFood = {"tea", "rice", "milk", "fish", "bread", "apple", "soup", "cake", "egg", "jam"};
const std::vector<std::string> kNumberWords = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

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

struct Receipt {
  std::vector<std::string> lines;
  int total = 0;
};

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

}  // namespace

World World::from(const SynthConfig& cfg, bool eval) {
  World w;
  w.tile = static_cast<int>(cfg.tile);
  w.scene = static_cast<int>(cfg.tile * cfg.scene_tiles);
  w.text.cap_px = std::max(5.0, cfg.text_px * static_cast<double>(cfg.tile));
  w.text.thickness = std::max(1, static_cast<int>(std::lround(w.text.cap_px / 8)));
  w.shapes.min_r = cfg.shape_size * 2 / 3;
  w.shapes.max_r = cfg.shape_size * 4 / 3;
  w.odd_aspect = cfg.odd_aspect;
  w.eval = eval;
  return w;
}

bool held_out_problem(int op, int a, int b) {
  return hash3(0x4e1d, static_cast<uint64_t>(op), static_cast<uint64_t>(a * 1000 + b)) % 8 == 0;
}

// ---------------------------------------------------------------- pretraining

Captioned make_caption_pair(CounterRng& rng, const World& w) {
  if (rng.chance(0.3)) {  // signs teach glyphs before the OCR stage
    const std::string word = rng.pick(kSignWords);
    return {sign_image(rng, w, word), "a sign that says " + word + "."};
  }
  Scene sc = make_scene(rng, scene_spec(w, 1, 4));
  const int n = static_cast<int>(sc.shapes.size());
  std::string cap = rng.chance(0.5) ? list_shapes(sc.shapes, sc.image, true) + "."
                                    : kNumberWords[n] + (n == 1 ? " shape: " : " shapes: ") +
                                          list_shapes(sc.shapes, sc.image, false) + ".";
  return {sc.image, cap};
}

Interleaved make_interleaved(CounterRng& rng, const World& w) {
  Interleaved doc;
  static const std::vector<std::string> intros = {"Here are some pictures of shapes.", "A short story about shapes.",
                                                  "Look at these scenes.", "We drew a few pictures."};
  doc.texts.push_back(rng.pick(intros));
  doc.images.emplace_back();
  const int n = static_cast<int>(rng.range(2, 3));
  for (int i = 0; i < n; ++i) {
    Scene sc = make_scene(rng, scene_spec(w, 1, 3));
    doc.texts.emplace_back();
    doc.images.push_back(sc.image);
    doc.texts.push_back("In picture " + std::to_string(i + 1) + " there is " + list_shapes(sc.shapes, sc.image, true) +
                        ".");
    doc.images.emplace_back();
  }
  return doc;
}

std::string make_text_document(CounterRng& rng, const World& w) {
  std::vector<std::string> sentences;
  const int n = static_cast<int>(rng.range(3, 7));
  for (int i = 0; i < n; ++i) {
    switch (rng.below(6)) {
      case 0: {
        int a = static_cast<int>(rng.range(0, 20)), b = static_cast<int>(rng.range(0, 20));
        if (held_out_problem(0, a, b) && !w.eval) { a = 1; b = 1; }
        sentences.push_back(fmt::format("{} plus {} is {}.", a, b, a + b));
        break;
      }
      case 1: {
        int a = static_cast<int>(rng.range(0, 9)), b = static_cast<int>(rng.range(0, 9));
        if (held_out_problem(2, a, b) && !w.eval) { a = 2; b = 2; }
        sentences.push_back(fmt::format("{} times {} is {}.", a, b, a * b));
        break;
      }
      case 2: {
        static const std::vector<std::string> facts = {
            "A triangle has 3 sides.", "A square has 4 sides.", "A circle has no corners.", "A star has 5 points.",
            "Red and blue make purple.", "Red and yellow make orange.", "Blue and yellow make green.",
            "Left is the opposite of right.", "Top is the opposite of bottom.", "Big is the opposite of small."};
        sentences.push_back(rng.pick(facts));
        break;
      }
      case 3: {
        const int a = static_cast<int>(rng.range(0, 90));
        sentences.push_back(fmt::format("Counting: {}, {}, {}, {}.", a, a + 1, a + 2, a + 3));
        break;
      }
      case 4:
        sentences.push_back("The " + rng.pick(kColours) + " " + rng.pick(kKinds) + " is at the " +
                            rng.pick(std::vector<std::string>{"top left", "top right", "bottom left", "bottom right",
                                                              "centre"}) +
                            ".");
        break;
      default:
        sentences.push_back("The sign says " + rng.pick(kSignWords) + ". The " + rng.pick(kKeys) + " is " +
                            std::to_string(rng.range(1, 999)) + ".");
    }
  }
  return join(sentences, " ");
}

// ---------------------------------------------------------------- OCR

Captioned make_ocr(CounterRng& rng, const World& w, int kind) {
  switch (kind) {
    case 0: {
      auto f = document_fields(rng, static_cast<int>(rng.range(2, 4)));
      std::vector<std::string> lines;
      for (const auto& [k, v] : f) lines.push_back(k + ": " + v);
      return {document_image(f, w), join(lines, "\n")};
    }
    case 1: {
      const Receipt r = receipt_lines(rng, w);
      return {receipt_image(r, w), join(r.lines, "\n")};
    }
    case 2: {
      auto f = strip_fields(rng);
      std::vector<std::string> parts;
      for (const auto& [k, v] : f) parts.push_back(k + " " + v);
      return {strip_image(f, w), join(parts, "  ")};
    }
    default: {
      const std::string word = rng.chance(0.5) ? rng.pick(kSignWords) : std::to_string(rng.range(1, 999));
      return {sign_image(rng, w, word), word};
    }
  }
}

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
          if (&o != &s && o.kind == s.kind && region_words(o.cx, o.cy, sc.image.cols, sc.image.rows) ==
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
    if (rng.chance(w.odd_aspect)) task = rng.chance(0.5) ? 1 : 2;
    else task = rng.chance(0.6) ? 0 : 3;
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
      Qa qa = single(receipt_image(r, w), "What is the total on the receipt?", std::to_string(r.total),
                     "receipt");
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
    if (rng.chance(0.5)) spec.width = w.scene * 2, spec.height = w.scene * 2 / 3;
    else spec.width = w.scene * 2 / 3, spec.height = w.scene * 2;
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
      if (rng.chance(0.5)) q = fmt::format("What is {} {} {}?", x, words[op], y);
      else q = fmt::format("Compute {} {} {}.", x, signs[op], y);
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
    struct Fact { size_t family; std::string subject, counted, answer; };
    static const std::vector<Fact> facts = {
        {0, "triangle", "sides", "3"}, {0, "square", "sides", "4"}, {0, "star", "points", "5"},
        {1, "red and blue", "", "purple"}, {1, "red and yellow", "", "orange"}, {1, "blue and yellow", "", "green"},
        {2, "left", "", "right"}, {2, "top", "", "bottom"}, {2, "big", "", "small"},
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
