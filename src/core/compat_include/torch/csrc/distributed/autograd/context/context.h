// Stand-in for the header Debian's LibTorch 1.13 omits: c10d/reducer.hpp needs only these two
// names from it. Used only where the real header is missing (cmake/Dependencies.cmake).
#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch::distributed::autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};

using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace torch::distributed::autograd
