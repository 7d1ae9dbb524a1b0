// Typed configuration of the synthetic world (`mmtrain data synth`): how many samples of each
// set, image sizes relative to the model's tile, shard sizes and the tokenizer to train.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/config/rules.h"

namespace mm {

// Samples per set (0 switches a set off). SFT and eval sets are per category.
struct SynthCountsConfig {
  int64_t caption = 2000;       // pretraining image-caption pairs (WebDataset shards)
  int64_t interleaved = 400;    // pretraining interleaved documents (2-3 images each)
  int64_t text = 3000;          // pretraining text-only documents
  int64_t ocr = 500;            // per OCR source (4 sources: docs, receipts, strips, signs)
  int64_t general = 1500;       // SFT: shapes VQA
  int64_t text_rich = 1500;     // SFT: read a value off a document or sign
  int64_t refer_ground = 1500;  // SFT: grounding and referring
  int64_t knowledge = 800;      // SFT: count and add, compare sizes, rendered sums
  int64_t multi_image = 800;    // SFT: comparisons across 2-3 images
  int64_t text_only = 1500;     // SFT: arithmetic and facts as conversations
  int64_t eval = 200;           // held-out samples per evaluation set

  template <class V>
  void visit(V& v) {
    v("caption", caption, "pretraining caption pairs", cfg::non_negative());
    v("interleaved", interleaved, "pretraining interleaved documents", cfg::non_negative());
    v("text", text, "pretraining text-only documents", cfg::non_negative());
    v("ocr", ocr, "OCR continual-pretraining samples per source (4 sources)", cfg::non_negative());
    v("general", general, "SFT general VQA conversations", cfg::non_negative());
    v("text_rich", text_rich, "SFT text-rich conversations", cfg::non_negative());
    v("refer_ground", refer_ground, "SFT refer&ground conversations", cfg::non_negative());
    v("knowledge", knowledge, "SFT knowledge/math conversations", cfg::non_negative());
    v("multi_image", multi_image, "SFT multi-image conversations", cfg::non_negative());
    v("text_only", text_only, "SFT text-only conversations", cfg::non_negative());
    v("eval", eval, "held-out samples per evaluation set", cfg::non_negative());
  }

  // Every training count times k (rounded, at least 1 where it was not 0); `eval` is kept, so a
  // larger world is scored on the same held-out items.
  SynthCountsConfig scaled(double k) const {
    SynthCountsConfig c = *this;
    for (int64_t* n : {&c.caption, &c.interleaved, &c.text, &c.ocr, &c.general, &c.text_rich, &c.refer_ground,
                       &c.knowledge, &c.multi_image, &c.text_only})
      if (*n > 0) *n = std::max<int64_t>(1, std::llround(static_cast<double>(*n) * k));
    return c;
  }
};

struct SynthConfig {
  uint64_t seed = 1234;           // training sets; eval sets use a disjoint stream of the same seed
  int64_t tile = 64;              // the model's tile side r (pixels): image sizes scale with it
  double scene_tiles = 2.0;       // side of shape scenes, in tiles
  double text_px = 0.25;          // glyph cap height as a fraction of the tile (about two patches
                                  // after the dynamic split, a blur in one downscaled tile)
  double shape_size = 0.21;       // mean half extent of a shape, fraction of the scene side
                                  // (drawn from 2/3 to 4/3 of it)
  double odd_aspect = 0.35;       // fraction of text images that are long strips or tall receipts
  std::string image_ext = "png";  // png | jpg
  int64_t jpeg_quality = 92;
  int64_t shard_size = 500;  // samples per WebDataset tar shard
  SynthCountsConfig counts;
  double counts_scale = 1.0;  // multiplies every training count (not eval)
  bool tokenizer = true;      // train a SentencePiece model on the generated text
  int64_t vocab_size = 1024;
  int64_t threads = 1;  // parallel image rendering (output is identical for any value)

  template <class V>
  void visit(V& v) {
    v("seed", seed, "seed of the training sets (eval sets use a disjoint stream)");
    v("tile", tile, "model tile side in pixels; image sizes are multiples of it", cfg::at_least(16));
    v("scene_tiles", scene_tiles, "side of shape scenes in tiles", cfg::in_range(0.5, 8));
    v("text_px", text_px, "glyph cap height as a fraction of the tile", cfg::in_range(0.05, 1));
    v("shape_size", shape_size, "mean half extent of a shape as a fraction of the scene side",
      cfg::in_range(0.03, 0.3));
    v("odd_aspect", odd_aspect, "fraction of text images with unusual aspect ratios", cfg::probability());
    v("image_ext", image_ext, "image encoding: png | jpg", cfg::one_of({"png", "jpg"}));
    v("jpeg_quality", jpeg_quality, "JPEG quality", cfg::in_range(1, 100));
    v("shard_size", shard_size, "samples per WebDataset tar shard", cfg::positive());
    v("counts", counts, "samples per set");
    v("counts_scale", counts_scale, "multiplies every training count (not eval): a larger or smaller world",
      cfg::positive());
    v("tokenizer", tokenizer, "train a SentencePiece model on the generated text");
    v("vocab_size", vocab_size, "SentencePiece vocabulary size", cfg::at_least(64));
    v("threads", threads, "rendering threads (the output does not depend on it)", cfg::positive());
  }
};

}  // namespace mm
