// The synthetic world's tasks: generators of pictures and the text that goes with them
// (captions, transcriptions, question/answer turns) for every stage and SFT category.
// Each generator is a pure function of its RNG, so a sample is a pure function of
// (seed, set, index) whatever the order or the threads.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/config/synth_config.h"
#include "data_pipeline/mixture/counter_rng.h"
#include "data_pipeline/synth/scene.h"

namespace mm::data::synth {

// Sizes derived from the config: everything scales with the model's tile.
struct World {
  int tile = 64;
  int scene = 128;   // side of shape scenes
  SceneSpec shapes;  // what every shape scene starts from: the size range (synth.shape_size)
  TextStyle text;    // small text: legible after the dynamic split only
  double odd_aspect = 0.35;
  bool eval = false;  // generate from the held-out half of the text-only problem space
  static World from(const SynthConfig& cfg, bool eval);
};

// Question/answer turns about some images. turns[0] is the one evaluation uses.
struct Qa {
  std::vector<cv::Mat> images;
  std::vector<std::pair<std::string, std::string>> turns;  // (question, answer); <image> in turns[0]
  std::vector<std::string> answers;                        // reference answers of turns[0] (eval)
  std::vector<std::string> choices;                        // options of a multiple-choice question
  std::string task;                                        // e.g. "count", "ground", "refer"
};

// A picture with its caption or transcription.
struct Captioned {
  cv::Mat image;
  std::string caption;
};

// Pretraining.
Captioned make_caption_pair(CounterRng& rng, const World& w);
// Interleaved document in OBELICS layout: texts[i] or images[i] set at every position.
struct Interleaved {
  std::vector<std::string> texts;  // "" where an image sits
  std::vector<cv::Mat> images;     // empty Mat where a text sits
};
Interleaved make_interleaved(CounterRng& rng, const World& w);
std::string make_text_document(CounterRng& rng, const World& w);

// The words signs show (with 1..999): captions, OCR signs, text-rich and the text documents.
inline const std::vector<std::string> kSignWords = {"open",  "stop",  "exit", "sale", "cafe", "north", "south", "east",
                                                    "west",  "hotel", "park", "bank", "gate", "shop",  "bus",   "taxi",
                                                    "river", "hill",  "lake", "road", "farm", "city",  "mail",  "book"};

// OCR continual pretraining: 0 documents, 1 tall receipts, 2 long strips, 3 signs.
inline const std::vector<std::string> kOcrKinds = {"docs", "receipts", "strips", "signs"};
Captioned make_ocr(CounterRng& rng, const World& w, int kind);

// SFT categories. `task` < 0 draws a task; otherwise forces one (eval sets pick theirs).
Qa make_general(CounterRng& rng, const World& w,
                int task = -1);  // 0 colour, 1 kind, 2 count, 3 count kind, 4 side, 5 exists
Qa make_text_rich(CounterRng& rng, const World& w, int task = -1);     // 0 document, 1 receipt, 2 strip, 3 sign
Qa make_refer_ground(CounterRng& rng, const World& w, int task = -1);  // 0 ground (box answer), 1 refer (box in prompt)
Qa make_knowledge(CounterRng& rng, const World& w,
                  int task = -1);  // 0 count and add, 1 compare sizes (choice), 2 rendered sum
Qa make_multi_image(CounterRng& rng, const World& w,
                    int task = -1);  // 0 more shapes, 1 which has, 2 both have colour, 3 common colour
Qa make_text_only(CounterRng& rng, const World& w, int task = -1);  // 0 arithmetic, 1 facts

// Whether an arithmetic problem (op, a, b) or a fact phrasing belongs to the held-out half.
bool held_out_problem(int op, int a, int b);

}  // namespace mm::data::synth
