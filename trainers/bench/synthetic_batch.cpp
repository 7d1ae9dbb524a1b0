// Synthetic batches shaped like the loader's (bench.h: synthetic_batch).
#include <torch/torch.h>

#include <algorithm>

#include "core/check.h"
#include "trainers/bench/bench.h"

namespace mm::bench {

MultimodalBatch synthetic_batch(const ModelConfig& model, int64_t batch, int64_t seq_len, int64_t images_per_seq,
                                int64_t docs_per_seq, uint64_t seed) {
  MM_CHECK(batch > 0 && seq_len > 1, "bench: need micro_batch > 0 and seq_len > 1, got {} x {}", batch, seq_len);
  MM_CHECK(docs_per_seq >= 1 && docs_per_seq <= seq_len / 2, "bench: --docs-per-seq {} must be in 1..{} for seq_len {}",
           docs_per_seq, seq_len / 2, seq_len);
  MM_CHECK(images_per_seq >= 0, "bench: --images-per-seq must be >= 0, got {}", images_per_seq);
  const int64_t m = model.connector.num_tokens, doc_len = seq_len / docs_per_seq;
  const int64_t per_doc = (images_per_seq + docs_per_seq - 1) / docs_per_seq;  // most images in one document
  MM_CHECK(per_doc * m + 2 <= doc_len,
           "bench: {} images per sequence x {} tokens per tile do not fit {} documents of {} tokens (loader.seq_len "
           "= {}); lower --images-per-seq or --docs-per-seq",
           images_per_seq, m, docs_per_seq, doc_len, seq_len);
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto ids = torch::randint(0, model.llm.vocab_size, {batch, seq_len}, torch::kLong);
  auto positions = torch::empty({batch, seq_len}, torch::kLong);
  auto doc_ids = torch::empty({batch, seq_len}, torch::kLong);
  auto pa = positions.accessor<int64_t, 2>();
  auto da = doc_ids.accessor<int64_t, 2>();
  std::vector<int64_t> doc_start(docs_per_seq);
  for (int64_t d = 0; d < docs_per_seq; ++d) doc_start[d] = d * doc_len;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < seq_len; ++t) {
      const int64_t d = std::min(t / doc_len, docs_per_seq - 1);  // the last document takes the remainder
      da[b][t] = d;
      pa[b][t] = t - doc_start[d];
    }
  }
  // Image k of a row goes to document k % docs, after that document's first token and its earlier images.
  std::vector<std::vector<int64_t>> starts(batch);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = 0; k < images_per_seq; ++k) {
      const int64_t d = k % docs_per_seq, j = k / docs_per_seq;
      starts[b].push_back(doc_start[d] + 1 + j * m);
    }
    std::sort(starts[b].begin(), starts[b].end());  // tiles in sequence order, as the collator emits them
  }
  MultimodalBatch out;
  out.input_ids = ids;
  out.positions = positions;
  out.doc_ids = doc_ids;
  out.labels = ids.clone();
  out.tiles_per_sample = torch::full({batch}, images_per_seq, torch::kLong);
  if (images_per_seq > 0) {
    out.image_slots = image_slots_from_tile_starts(starts, seq_len, m);
    out.labels.view({-1}).index_fill_(0, out.image_slots, -100);
    const int64_t r = model.vision.image_size;
    out.tiles = torch::randn({batch * images_per_seq, 3, r, r});
  }
  return out;
}

}  // namespace mm::bench
