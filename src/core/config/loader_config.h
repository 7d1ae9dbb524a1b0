// Typed configuration of the training data loader (visit() pattern of model_config.h): sequence
// length, micro-batch, worker threads, prefetch depth, packing and the seed of the sample stream.
#pragma once
#include <cstdint>

#include "core/config/rules.h"

namespace mm {

struct LoaderConfig {
  int64_t seq_len = 512;        // T: tokens per sequence (packed or padded)
  int64_t micro_batch = 8;      // B: sequences per batch
  int64_t workers = 2;          // threads decoding/tokenising samples (batches do not depend on it)
  int64_t prefetch = 4;         // batches built ahead of the consumer (bounded queue)
  bool packing = true;          // several samples per sequence; false: one sample per sequence
  int64_t open_sequences = 4;   // packing: first-fit over this many open sequences
  bool split_long_text = true;  // text-only samples longer than seq_len become seq_len chunks
  uint64_t seed = 1234;         // seed of the mixture stream (per-epoch shuffles, source draws)
  // Not a config key (absent from visit(), so from dumps and config hashes): set by the program
  // from the device it trains on. true: batches are collated into pinned (page-locked) host
  // memory, in the loader's thread (data_pipeline/loader/batch.h pin_batch); needs a CUDA LibTorch
  // and a visible GPU, so only for CUDA runs.
  bool pin_batches = false;

  template <class V>
  void visit(V& v) {
    v("seq_len", seq_len, "tokens per sequence T", cfg::positive());
    v("micro_batch", micro_batch, "sequences per batch B", cfg::positive());
    v("workers", workers, "sample encoding threads (batches are identical for any count)", cfg::positive());
    v("prefetch", prefetch, "batches prepared ahead of the consumer", cfg::positive());
    v("packing", packing, "pack several samples per sequence (false: one sample per sequence)");
    v("open_sequences", open_sequences, "packing: first-fit over this many open sequences", cfg::positive());
    v("split_long_text", split_long_text, "text-only samples longer than seq_len are cut into seq_len chunks");
    v("seed", seed, "seed of the sample stream (source draws and per-epoch shuffles)");
  }
};

}  // namespace mm
