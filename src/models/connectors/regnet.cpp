// RegNet bottleneck blocks (timm semantics) for the C-Abstractor.
#include "models/connectors/regnet.h"

#include <cmath>

#include "core/check.h"

namespace mm::connectors {

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  // Normalised in the parameters' dtype (fp32): under bf16 autocast the conv before hands bf16 in.
  auto y = x.permute({0, 2, 3, 1}).to(weight.scalar_type());  // (N, H, W, C)
  y = torch::layer_norm(y, {weight.size(0)}, weight, bias, eps_);
  return y.permute({0, 3, 1, 2});  // (N, C, H, W)
}

ConvNormActImpl::ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t groups, bool act) : act_(act) {
  conv = register_module(
      "conv",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).groups(groups).bias(false)));
  bn = register_module("bn", LayerNorm2d(out));
}

torch::Tensor ConvNormActImpl::forward(const torch::Tensor& x) {
  auto y = bn(conv(x));
  return act_ ? torch::silu(y) : y;
}

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels, int64_t reduced) {
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, reduced, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(reduced, channels, 1)));
}

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);  // (N, C, 1, 1)
  s = fc2(torch::silu(fc1(s)));               // (N, C, 1, 1)
  return x * torch::sigmoid(s);
}

RegBottleneckImpl::RegBottleneckImpl(int64_t in, int64_t out, double se_ratio) {
  // timm: bottleneck_chs = out * bottle_ratio (1); groups = bottleneck_chs / group_size (1) -> depthwise.
  conv1 = register_module("conv1", ConvNormAct(in, out, 1, 1, true));
  conv2 = register_module("conv2", ConvNormAct(out, out, 3, out, true));
  // timm sizes the SE reduction from the block's *input* width.
  const auto se_ch = static_cast<int64_t>(std::lround(static_cast<double>(in) * se_ratio));
  if (se_ratio > 0) {
    MM_CHECK(se_ch >= 1, "connector.se_ratio = {} leaves no squeeze-excitation channels for width {}", se_ratio, in);
    se = register_module("se", SqueezeExcite(out, se_ch));
  }
  conv3 = register_module("conv3", ConvNormAct(out, out, 1, 1, false));
  if (in != out) downsample = register_module("downsample", ConvNormAct(in, out, 1, 1, false));
}

torch::Tensor RegBottleneckImpl::forward(const torch::Tensor& x) {
  auto y = conv2(conv1(x));  // (N, out, H, W)
  if (se) y = se(y);
  y = conv3(y);
  y = y + (downsample ? downsample(x) : x);
  return torch::silu(y);
}

RegStageImpl::RegStageImpl(int64_t depth, int64_t in, int64_t out, double se_ratio) {
  MM_CHECK(depth >= 1, "connector.depth must be >= 1, got {}", depth);
  for (int64_t i = 0; i < depth; ++i) {
    blocks_.push_back(register_module("b" + std::to_string(i + 1), RegBottleneck(i == 0 ? in : out, out, se_ratio)));
  }
}

torch::Tensor RegStageImpl::forward(torch::Tensor x) {
  for (auto& b : blocks_) x = b(x);
  return x;
}

}  // namespace mm::connectors
