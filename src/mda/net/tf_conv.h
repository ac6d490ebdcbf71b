// A convolution as TensorFlow Lite runs it: "SAME" padding computed from the input size (extra
// padding at the bottom/right), a bias (batch norm folded in), and an optional fused ReLU6.
#pragma once

#include <torch/torch.h>

namespace mda {

class TfConvImpl : public torch::nn::Module {
 public:
  // depthwise: groups = channels (in == out). Weights: Cout x Cin/groups x k x k, as torch.
  TfConvImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool depthwise, bool relu6);
  torch::Tensor forward(torch::Tensor x);

  int64_t in_channels, out_channels, kernel, stride;
  bool depthwise, relu6;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(TfConv);

}  // namespace mda
