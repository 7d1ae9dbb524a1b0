// RegNet building blocks of the C-Abstractor, after timm's regnet.Bottleneck/RegStage as Honeybee
// uses them (stride 1, SiLU, LayerNorm2d, bottle_ratio 1, group_size 1, se_ratio 0.25); module and
// parameter names match timm's so Honeybee weights map one to one.
#pragma once
#include <torch/torch.h>

namespace mm::connectors {

// LayerNorm over the channels of an NCHW map (timm LayerNorm2d / LayerNormAct2d, eps 1e-5).
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);  // (N, C, H, W) -> (N, C, H, W)

  torch::Tensor weight, bias;  // (C)

 private:
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// conv (no bias, 'same' padding) -> LayerNorm2d (`bn`, timm's name) -> optional SiLU.
class ConvNormActImpl : public torch::nn::Module {
 public:
  ConvNormActImpl(int64_t in, int64_t out, int64_t kernel, int64_t groups, bool act);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, out, H, W)

  torch::nn::Conv2d conv{nullptr};  // (out, in/groups, k, k)
  LayerNorm2d bn{nullptr};

 private:
  bool act_;
};
TORCH_MODULE(ConvNormAct);

// Squeeze-excitation: x * sigmoid(fc2(SiLU(fc1(mean_hw(x))))), fc = 1x1 convs with bias.
class SqueezeExciteImpl : public torch::nn::Module {
 public:
  SqueezeExciteImpl(int64_t channels, int64_t reduced);
  torch::Tensor forward(const torch::Tensor& x);  // (N, C, H, W) -> (N, C, H, W)

  torch::nn::Conv2d fc1{nullptr};  // (reduced, C, 1, 1)
  torch::nn::Conv2d fc2{nullptr};  // (C, reduced, 1, 1)
};
TORCH_MODULE(SqueezeExcite);

// RegNet bottleneck: conv1 1x1 -> LN2d -> SiLU -> conv2 3x3 depthwise -> LN2d -> SiLU -> SE
// -> conv3 1x1 -> LN2d; plus the shortcut (identity, or `downsample` = 1x1 conv + LN2d when the
// widths differ); SiLU after the sum.
class RegBottleneckImpl : public torch::nn::Module {
 public:
  RegBottleneckImpl(int64_t in, int64_t out, double se_ratio);
  torch::Tensor forward(const torch::Tensor& x);  // (N, in, H, W) -> (N, out, H, W)

  ConvNormAct conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SqueezeExcite se{nullptr};        // absent when se_ratio == 0
  ConvNormAct downsample{nullptr};  // absent when in == out
};
TORCH_MODULE(RegBottleneck);

// `depth` bottlenecks named b1..bN; the first maps in -> out, the rest out -> out.
class RegStageImpl : public torch::nn::Module {
 public:
  RegStageImpl(int64_t depth, int64_t in, int64_t out, double se_ratio);
  torch::Tensor forward(torch::Tensor x);  // (N, in, H, W) -> (N, out, H, W)

 private:
  std::vector<RegBottleneck> blocks_;
};
TORCH_MODULE(RegStage);

}  // namespace mm::connectors
