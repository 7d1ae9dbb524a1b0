// The precompiled header for every torch-using target: LibTorch's frontend is the slow part of
// each translation unit; compiling it once keeps a clean 2-core build short.
#pragma once
#include <torch/torch.h>
