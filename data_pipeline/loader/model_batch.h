// to_model_batch: a loader batch (data::Batch) as the model's input (MultimodalBatch). The train
// loop, `mmtrain bench` and the word probe all feed the model this way; models' to_device moves it.
#pragma once
#include <torch/torch.h>

#include "data_pipeline/loader/batch.h"
#include "models/mllm.h"

namespace mm::data {

// The tensors are shared, not copied. A batch without tiles leaves tiles and image_slots undefined.
inline MultimodalBatch to_model_batch(const Batch& b) {
  MultimodalBatch m;
  m.input_ids = b.input_ids;
  m.labels = b.labels;
  m.positions = b.positions;
  m.doc_ids = b.doc_ids;
  if (b.num_tiles() > 0) {
    m.tiles = b.tiles;
    m.image_slots = b.image_slots;
  }
  m.tiles_per_sample = b.tiles_per_sample;
  return m;
}

}  // namespace mm::data
