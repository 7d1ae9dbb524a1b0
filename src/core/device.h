// The compute device of a run from its config string: the one device picker (training, the
// benchmark, generation and evaluation all choose the same way).
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace mm {

// name: "auto" (CUDA when LibTorch sees a GPU, else the CPU), "cpu" or "cuda" (a GPU is required).
// Throws mm::Error with one line naming `key_for_errors` (the config key, e.g. "train.device") when
// name is none of these or cuda is requested but no CUDA device is visible. c10::Device is
// torch::Device.
c10::Device pick_device(const std::string& name, const char* key_for_errors);

}  // namespace mm
