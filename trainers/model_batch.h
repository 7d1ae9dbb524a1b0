// to_model_batch: a loader batch (data::Batch) as the model's input (MultimodalBatch), moved to a
// device. The train loop, `mmtrain bench` and the word probe all feed the model this way.
#pragma once
#include <torch/torch.h>

#include "data_pipeline/loader/batch.h"
#include "models/mllm.h"

namespace mm::train {

// On the CPU the tensors are shared, not copied. Asynchronous copies only from pinned memory
// (LoaderConfig::pin_batches): the host keeps queueing kernels. A batch without tiles leaves tiles
// and image_slots undefined.
inline MultimodalBatch to_model_batch(const data::Batch& b, const torch::Device& dev = torch::kCPU) {
  MultimodalBatch m;
  const bool nb = dev.is_cuda();
  m.input_ids = b.input_ids.to(dev, nb);
  m.labels = b.labels.to(dev, nb);
  m.positions = b.positions.to(dev, nb);
  m.doc_ids = b.doc_ids.to(dev, nb);
  if (b.num_tiles() > 0) {
    m.tiles = b.tiles.to(dev, nb);
    m.image_slots = b.image_slots.to(dev, nb);
  }
  m.tiles_per_sample = b.tiles_per_sample.to(dev, nb);
  return m;
}

}  // namespace mm::train
