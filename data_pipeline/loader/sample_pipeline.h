// encode_sample: one record of a source -> an EncodedItem (tokens with image slots + the tiles of
// its images), or the quarantine entry saying why it was dropped. A pure function of the record
// and the configs, so any thread may run it and the result never depends on which one did.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/image_config.h"
#include "data_pipeline/formats/source.h"
#include "data_pipeline/quarantine.h"
#include "tokenizer/sample_encoder.h"

namespace mm::data {

struct EncodedItem {
  std::string source;                    // source name
  std::string id;                        // record id
  tok::EncodedSample sample;             // tokens, labels, image slots (valid when ok())
  std::vector<torch::Tensor> tiles;      // per image: (n_k, 3, r, r) float, tile order (overview last)
  int64_t budget_steps = 0;              // tile requests tried beyond the first (0: configured split)
  std::optional<QuarantineEntry> error;  // set when the record was dropped
  bool ok() const { return !error.has_value(); }
  int64_t num_tiles() const;  // tiles over all images
};

struct SamplePipelineOptions {
  ImageConfig image;            // split, indicators, normalisation (tile_size = the ViT's r)
  int64_t seq_len = 0;          // every sample with images must fit (tile budget)
  bool split_long_text = true;  // text-only samples may exceed seq_len (the packer chunks them)
};

class SamplePipeline {
 public:
  // Validates the image config; the encoder's tokens_per_tile is the connector's M.
  SamplePipeline(tok::SampleEncoder encoder, SamplePipelineOptions opts);

  // Record `index` of `src`: get -> read + decode images -> tile budget (nmax, nmax-1, ..., nmin,
  // single tile) -> tokens -> tiles. Never throws for bad data: RecordError, image errors,
  // placeholder mismatches and samples that cannot fit become item.error.
  EncodedItem encode(const Source& src, int64_t index) const;
  // The same for a sample already read.
  EncodedItem encode(const RawSample& s) const;

  const tok::SampleEncoder& encoder() const { return encoder_; }
  const SamplePipelineOptions& options() const { return opts_; }

 private:
  tok::SampleEncoder encoder_;
  SamplePipelineOptions opts_;
  tok::Indicators indicators_;
};

}  // namespace mm::data
