// CNN backbones that turn an image into the feature map S (method.md 1.1). Each one normalises its
// own input: images enter as RGB in [0, 1], planar, batch first.
#pragma once

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

namespace mda {

// The arithmetic of the backbone's convolutions at inference (evaluation.precision): float,
// bfloat16 (any backbone; CUDA, or CPUs with bfloat16 instructions) or int8 (MobileNetV1 on the
// CPU). The attention heads and the reduction always run in float.
enum class BackbonePrecision { kFloat, kBfloat16, kInt8 };
// "float", "bf16" or "int8"; anything else is an error naming `key`.
BackbonePrecision parse_backbone_precision(const std::string& text, const std::string& key);
std::string backbone_precision_name(BackbonePrecision precision);

class BackboneImpl : public torch::nn::Module {
 public:
  ~BackboneImpl() override = default;
  // x: B x 3 x H x W, RGB in [0, 1]. Returns S: B x Cs x H/stride x W/stride.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t out_channels() const = 0;
  virtual int64_t stride() const = 0;
  // For inference only: folds each BatchNorm (its running statistics) into the convolution before
  // it, which then runs with a bias and the BatchNorm pass is skipped. The same outputs in eval
  // mode within float rounding; the module can no longer be trained or saved. No-op for backbones
  // without BatchNorm.
  virtual void fold_batch_norm() {}
  // For CPU inference only: runs the convolutions in int8 from now on (evaluation.precision:
  // int8); the float path stays for training and other devices. Returns why it cannot ("" when
  // it now does).
  virtual std::string enable_int8_inference() {
    return "only a MobileNetV1 backbone has an int8 form";
  }
};

// torchvision's ResNet with the same module names, so that a torchvision state_dict loads by name;
// `skip_layer` trailing residual stages are not built (HOW's "-R50" = resnet50, skip_layer 1).
std::shared_ptr<BackboneImpl> make_resnet(const std::string& name, int skip_layer);

// TensorFlow's MobileNetV1/V2 (width 1.0): "SAME" padding, ReLU6, batch norm folded into conv
// biases. skip_layer 1 ends at stride 16 (V1: after Conv2d_11_pointwise, 512 channels; V2: after
// expanded_conv_12, 96 channels); skip_layer 0 is the full network at stride 32 (V1: 1024
// channels; V2: through Conv_1, 1280 channels).
std::shared_ptr<BackboneImpl> make_mobilenet(const std::string& name, int skip_layer);

std::shared_ptr<BackboneImpl> make_backbone(const std::string& name, int skip_layer);

}  // namespace mda
