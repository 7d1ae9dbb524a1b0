// Batch: B packed sequences of T tokens as tensors, with the tiles of their images and the flat
// image-slot positions the model scatters image tokens into (src/models/mllm.h MultimodalBatch),
// plus the bookkeeping metrics need (samples and sources, loss tokens, tokens per source).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data_pipeline/packing/packer.h"

namespace mm::data {

// One document of a batch (a sample, or one chunk of a long text-only sample).
struct BatchDoc {
  int64_t position = 0;           // index of the sample in the global stream
  std::string source;             // source name
  std::string id;                 // record id
  int64_t row = 0;                // batch row b
  int64_t begin = 0, length = 0;  // token range in the row
};

struct Batch {
  torch::Tensor input_ids;                       // (B, T) int64; image slots hold the image token id
  torch::Tensor labels;                          // (B, T) int64; -100 = no loss (padding, prompts, images, doc starts)
  torch::Tensor positions;                       // (B, T) int64; 0.. within each document, 0 on padding
  torch::Tensor doc_ids;                         // (B, T) int64; 0, 1, ... per document of a row, -1 on padding
  torch::Tensor tiles;                           // (N, 3, r, r) float32, rows in order, images in sequence order,
                                                 // tiles row-major then overview; N = 0 for a text-only batch
  torch::Tensor image_slots;                     // (N * M) int64 flat positions b * T + t; tile i fills [i*M, (i+1)*M)
  torch::Tensor tiles_per_sample;                // (B) int64 tiles of each row
  int64_t tokens_per_tile = 0;                   // M
  std::vector<BatchDoc> docs;                    // every document, row by row (loss-spike reports)
  int64_t loss_tokens = 0;                       // labels != -100
  int64_t real_tokens = 0;                       // tokens that are not padding
  int64_t images = 0;                            // images (not tiles) in the batch
  std::map<std::string, int64_t> source_tokens;  // real tokens per source name
  double data_wait_s = 0.0;                      // time the consumer blocked in Loader::next() for this batch

  int64_t rows() const { return input_ids.defined() ? input_ids.size(0) : 0; }
  int64_t num_tiles() const { return tiles.defined() ? tiles.size(0) : 0; }
};

// What the collator needs to know about a document's sample: where it came from and its tiles.
struct DocInfo {
  int64_t position = 0;
  const std::string* source = nullptr;
  const std::string* id = nullptr;
  const std::vector<torch::Tensor>* tiles = nullptr;  // per image (n_k, 3, r, r); null: no images
};
using DocLookup = std::function<DocInfo(int64_t sample)>;  // PackedDoc::sample -> info

// Pinned (page-locked) batches: Tensor::to(cuda, non_blocking=true) is asynchronous only from pinned
// host memory; from pageable memory the copy blocks the host until the stream reaches it, so the CPU
// stops queueing kernels. Pinning needs a CUDA LibTorch and a visible GPU; a loader whose
// LoaderConfig::pin_batches is set (CUDA runs) pins in its own thread, off the training thread.
// Moves every tensor of `b` into pinned memory (tensors already pinned are kept).
void pin_batch(Batch& b);

// Stacks `seqs` (each of length T) into a Batch; tiles are gathered through `lookup` in the
// order of each sequence's images. `tile_size` shapes the empty tile tensor of text-only batches.
// pin: the batch is returned in pinned memory (pin_batch).
Batch collate_batch(const std::vector<PackedSequence>& seqs, const DocLookup& lookup, int64_t tokens_per_tile,
                    int64_t tile_size, bool pin = false);

}  // namespace mm::data
