// Greedy packing of encoded samples into fixed-length sequences: document ids, positions reset
// per document, padding, images never split across sequences, packing efficiency.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "tokenizer/sample_encoder.h"

namespace mm::data {

struct PackOptions {
  int64_t seq_len = 0;          // L
  int64_t open_sequences = 4;   // first-fit over this many open sequences (1 = next-fit)
  bool split_long_text = true;  // text-only samples longer than L become L-token chunks
  int32_t pad_id = 0;           // input id of padding (the tokenizer's pad)
};

// One document (a sample, or one chunk of a long text-only sample) inside a sequence.
struct PackedDoc {
  int64_t sample = 0;  // index of the sample in add() order
  int64_t chunk = 0;   // chunk number within that sample (0 unless it was split)
  int64_t begin = 0;   // first token in the sequence
  int64_t length = 0;
};

// One image inside a sequence; tiles of a sequence go to the encoder in this order.
struct PackedImage {
  int64_t sample = 0;                // index of the sample in add() order
  int64_t image = 0;                 // image number within the sample
  int64_t begin = 0, end = 0;        // token run in the sequence, markers included
  std::vector<int64_t> tile_starts;  // first slot of each tile, sequence coordinates
};

struct PackedSequence {
  std::vector<int32_t> input_ids;  // (L) pad_id after the last document
  std::vector<int32_t> labels;     // (L) -100 on padding and on each document's first token
  std::vector<int32_t> positions;  // (L) 0.. within each document; 0 on padding
  std::vector<int32_t> doc_ids;    // (L) 0, 1, ... per document in this sequence; -1 on padding
  std::vector<PackedDoc> docs;
  std::vector<PackedImage> images;
  int64_t used = 0;  // real tokens (L - padding)
};

struct PackStats {
  int64_t samples = 0;  // accepted samples
  int64_t rejected = 0;
  int64_t docs = 0;         // documents placed (samples + extra chunks)
  int64_t sequences = 0;    // sequences emitted
  int64_t real_tokens = 0;  // tokens of emitted sequences that are not padding
  int64_t capacity = 0;     // sequences * L
  double efficiency() const { return capacity > 0 ? static_cast<double>(real_tokens) / capacity : 0.0; }
};

// Streaming packer: add() samples in order, take() the sequences that are complete, flush() at
// the end. A sample goes into the first open sequence it fits (oldest first); a sequence that
// becomes full is emitted at once; when none has room and `open_sequences` are open, the oldest
// is closed (padded). The output depends only on the input order.
class Packer {
 public:
  explicit Packer(const PackOptions& opts);

  // Adds one sample; returns its index (add order), or -1 when rejected (reason in *reason):
  // a sample with images longer than L, an empty sample, or text longer than L without splitting.
  int64_t add(const tok::EncodedSample& sample, std::string* reason = nullptr);
  std::vector<PackedSequence> take();  // completed sequences, in completion order
  void flush();                        // closes every open sequence
  const PackStats& stats() const { return stats_; }

 private:
  PackOptions opts_;
  std::deque<PackedSequence> open_;
  std::vector<PackedSequence> done_;
  PackStats stats_;
  int64_t next_sample_ = 0;

  void place(PackedSequence& seq, const tok::EncodedSample& s, int64_t from, int64_t len, int64_t sample,
             int64_t chunk);
  void finish(PackedSequence&& seq);  // pads to L, counts, moves to the output
  void place_first_fit(const tok::EncodedSample& s, int64_t from, int64_t len, int64_t sample, int64_t chunk);
};

// Packs `samples` in order and flushes; rejected samples' indices and reasons go to `rejected`.
std::vector<PackedSequence> pack_samples(const std::vector<tok::EncodedSample>& samples, const PackOptions& opts,
                                         PackStats* stats = nullptr,
                                         std::vector<std::pair<int64_t, std::string>>* rejected = nullptr);

}  // namespace mm::data
