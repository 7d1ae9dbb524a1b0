// The synthetic tasks of pretraining and OCR (tasks.h); the SFT categories are in sft_tasks.cpp.
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
        if (held_out_problem(0, a, b) && !w.eval) {
          a = 1;
          b = 1;
        }
        sentences.push_back(fmt::format("{} plus {} is {}.", a, b, a + b));
        break;
      }
      case 1: {
        int a = static_cast<int>(rng.range(0, 9)), b = static_cast<int>(rng.range(0, 9));
        if (held_out_problem(2, a, b) && !w.eval) {
          a = 2;
          b = 2;
        }
        sentences.push_back(fmt::format("{} times {} is {}.", a, b, a * b));
        break;
      }
      case 2: {
        static const std::vector<std::string> facts = {
            "A triangle has 3 sides.",      "A square has 4 sides.",          "A circle has no corners.",
            "A star has 5 points.",         "Red and blue make purple.",      "Red and yellow make orange.",
            "Blue and yellow make green.",  "Left is the opposite of right.", "Top is the opposite of bottom.",
            "Big is the opposite of small."};
        sentences.push_back(rng.pick(facts));
        break;
      }
      case 3: {
        const int a = static_cast<int>(rng.range(0, 90));
        sentences.push_back(fmt::format("Counting: {}, {}, {}, {}.", a, a + 1, a + 2, a + 3));
        break;
      }
      case 4:
        sentences.push_back(
            "The " + rng.pick(kColours) + " " + rng.pick(kKinds) + " is at the " +
            rng.pick(std::vector<std::string>{"top left", "top right", "bottom left", "bottom right", "centre"}) + ".");
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

}  // namespace mm::data::synth
