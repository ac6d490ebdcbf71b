// MobileNetV1 run with int8 convolutions on the CPU (libtorch's quantized operators on oneDNN's
// VNNI kernels): for inference only, opt-in with evaluation.precision: int8.
//
// Every MobileNetV1 convolution ends in ReLU6, so its output lies in [0, 6] whatever the input:
// quint8 with step 6/255 and zero point 0 covers it exactly, and the saturating conversion is the
// ReLU6. No calibration data is needed. The input, 8-bit pixels p that TF MobileNets read as
// (p - 128) / 128, is quint8 with step 1/128 and zero point 128. Weights are rounded per output
// channel to int8 (step max |w| / 127); biases stay in float. TensorFlow's "SAME" padding of a
// stride-2 3x3 convolution (nothing above, one row below on an even side) is a symmetric padding
// of one with the kernel grown by a leading zero row (column): exact, at 4/3 of that layer's
// multiply-adds, where padding a quantized tensor would cost a copy.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "mda/net/tf_conv.h"

namespace mda {

class Int8MobileNetV1 {
 public:
  // Why it cannot run here ("" when it can): it needs libtorch's oneDNN quantized engine and a CPU
  // with VNNI instructions.
  static std::string unavailable_reason();

  // Packs the convolutions of a MobileNetV1 (each 1x1 or 3x3, stride 1 or 2, with ReLU6).
  explicit Int8MobileNetV1(const std::vector<TfConv>& convs);
  ~Int8MobileNetV1();

  // x: 1 x 3 x H x W RGB in [0, 1] on the CPU. Returns the float feature map of the last
  // convolution, as MobileNetImpl::forward does in float.
  torch::Tensor forward(const torch::Tensor& x) const;  // safe to call from several threads

 private:
  struct Layer;
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace mda
