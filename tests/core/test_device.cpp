// pick_device (core/device.h): auto | cpu | cuda, one-line errors naming the config key.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "core/check.h"
#include "core/device.h"

using Catch::Matchers::Contains;

TEST_CASE("pick_device: cpu, auto follows CUDA, unknown names and missing CUDA fail naming the key", "[core][device]") {
  CHECK(mm::pick_device("cpu", "train.device").is_cpu());
  const bool cuda = torch::cuda::is_available();
  CHECK(mm::pick_device("auto", "train.device").is_cuda() == cuda);
  CHECK_THROWS_WITH(mm::pick_device("gpu", "bench.device"),
                    Contains("bench.device: expected auto, cpu or cuda, got 'gpu'"));
  if (cuda) {
    CHECK(mm::pick_device("cuda", "train.device").is_cuda());
  } else {
    CHECK_THROWS_AS(mm::pick_device("cuda", "train.device"), mm::Error);
    CHECK_THROWS_WITH(mm::pick_device("cuda", "train.device"),
                      Contains("train.device: cuda requested but no CUDA device is visible to this LibTorch"));
  }
}
