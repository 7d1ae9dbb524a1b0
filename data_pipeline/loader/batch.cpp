#include "data_pipeline/loader/batch.h"

#include "core/check.h"
#include "data_pipeline/image/tile_buffers.h"

namespace mm::data {

void pin_batch(Batch& b) {
  for (torch::Tensor* t :
       {&b.input_ids, &b.labels, &b.positions, &b.doc_ids, &b.tiles, &b.image_slots, &b.tiles_per_sample})
    if (t->defined() && !t->is_pinned()) *t = t->pin_memory();
}

Batch collate_batch(const std::vector<PackedSequence>& seqs, const DocLookup& lookup, int64_t tokens_per_tile,
                    int64_t tile_size, bool pin) {
  MM_CHECK(!seqs.empty(), "collate: no sequences");
  const int64_t B = static_cast<int64_t>(seqs.size());
  const int64_t T = static_cast<int64_t>(seqs[0].input_ids.size());
  Batch b;
  b.tokens_per_tile = tokens_per_tile;
  b.input_ids = torch::empty({B, T}, torch::kInt64);      // (B, T)
  b.labels = torch::empty({B, T}, torch::kInt64);         // (B, T)
  b.positions = torch::empty({B, T}, torch::kInt64);      // (B, T)
  b.doc_ids = torch::empty({B, T}, torch::kInt64);        // (B, T)
  b.tiles_per_sample = torch::zeros({B}, torch::kInt64);  // (B)
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto lab = b.labels.accessor<int64_t, 2>();
  auto pos = b.positions.accessor<int64_t, 2>();
  auto doc = b.doc_ids.accessor<int64_t, 2>();
  auto tps = b.tiles_per_sample.accessor<int64_t, 1>();
  std::vector<torch::Tensor> tiles;
  std::vector<int64_t> slots;
  for (int64_t r = 0; r < B; ++r) {
    const PackedSequence& s = seqs[r];
    MM_CHECK(static_cast<int64_t>(s.input_ids.size()) == T, "collate: row {} has {} tokens, expected {}", r,
             s.input_ids.size(), T);
    for (int64_t t = 0; t < T; ++t) {
      ids[r][t] = s.input_ids[t];
      lab[r][t] = s.labels[t];
      pos[r][t] = s.positions[t];
      doc[r][t] = s.doc_ids[t];
      b.loss_tokens += s.labels[t] != tok::kIgnoreIndex;
    }
    b.real_tokens += s.used;
    for (const PackedDoc& d : s.docs) {
      const DocInfo info = lookup(d.sample);
      b.docs.push_back({info.position, *info.source, *info.id, r, d.begin, d.length});
      b.source_tokens[*info.source] += d.length;
    }
    for (const PackedImage& im : s.images) {
      const DocInfo info = lookup(im.sample);
      MM_CHECK(info.tiles && im.image < static_cast<int64_t>(info.tiles->size()),
               "collate: no tiles for image {} of sample {}", im.image, im.sample);
      const torch::Tensor& t = (*info.tiles)[im.image];  // (n, 3, r, r)
      MM_CHECK(t.size(0) == static_cast<int64_t>(im.tile_starts.size()),
               "collate: image {} of {} has {} tiles but {} tile slots", im.image, *info.id, t.size(0),
               im.tile_starts.size());
      tiles.push_back(t);
      for (int64_t st : im.tile_starts) {
        for (int64_t m = 0; m < tokens_per_tile; ++m) slots.push_back(r * T + st + m);
      }
      tps[r] += t.size(0);
      ++b.images;
    }
  }
  if (tiles.empty()) {
    b.tiles = torch::empty({0, 3, tile_size, tile_size}, torch::kFloat32);
  } else {
    int64_t n = 0;
    for (const auto& t : tiles) n += t.size(0);
    b.tiles = pooled_float_tensor({n, 3, tiles[0].size(2), tiles[0].size(3)});  // (N, 3, r, r), recycled
    torch::cat_out(b.tiles, tiles, 0);
  }
  b.image_slots = torch::tensor(slots, torch::kInt64);  // (N * M)
  if (slots.empty()) b.image_slots = torch::empty({0}, torch::kInt64);
  if (pin) pin_batch(b);
  return b;
}

}  // namespace mm::data
