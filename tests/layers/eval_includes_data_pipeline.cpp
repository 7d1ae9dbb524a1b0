// Layer probe, the positive control (never built by the normal build): eval sits above the data
// pipeline, so this include compiles with eval's include path (and reaches tokenizer/ through it).
#include "data_pipeline/sample.h"

int mm_layer_probe_images(const mm::data::RawSample& s) { return static_cast<int>(s.images.size()); }
