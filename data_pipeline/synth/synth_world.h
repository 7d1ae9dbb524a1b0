// `mmtrain data synth`: writes the whole synthetic world (pretraining, OCR, SFT per category,
// held-out eval sets, a SentencePiece model, README.md and source YAML fragments) to a folder,
// deterministically from the config's seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/synth_config.h"

namespace mm::data::synth {

struct SynthSetSummary {
  std::string name;    // source or benchmark name
  std::string stage;   // pretrain | ocr | sft | eval
  std::string format;  // wds | captions | interleaved | text | llava | eval
  std::string path;    // relative to the output folder (a glob for shards)
  std::string category;
  std::string metric;  // eval sets only
  int64_t samples = 0;
  int64_t images = 0;
  double seconds = 0;
};

struct SynthSummary {
  std::vector<SynthSetSummary> sets;
  int64_t samples = 0, images = 0;
  double seconds = 0;  // generation and writing of all sets (tokenizer excluded)
  double tokenizer_seconds = 0;
  std::string tokenizer_model;  // relative path, "" when not trained
};

SynthSummary write_synthetic_world(const SynthConfig& cfg, const std::string& out_dir);

}  // namespace mm::data::synth
