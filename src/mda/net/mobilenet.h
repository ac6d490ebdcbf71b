// TensorFlow MobileNetV1/V2 backbones (see make_mobilenet in backbone.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mda/net/backbone.h"
#include "mda/net/tf_conv.h"

namespace mda {

class Int8MobileNetV1;

class MobileNetImpl : public BackboneImpl {
 public:
  MobileNetImpl(int version, int skip_layer);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t out_channels() const override { return out_channels_; }
  int64_t stride() const override { return stride_; }
  std::string enable_int8_inference() override;

  // Convolutions in execution order, with their TF scope names: the order TFLite files list them.
  const std::vector<TfConv>& convs() const { return convs_; }
  const std::vector<std::string>& conv_names() const { return names_; }

 private:
  struct Block {  // a V2 inverted residual: convs first..last, plus the input when residual
    int first = 0, last = 0;
    bool residual = false;
  };
  int version_;
  std::vector<TfConv> convs_;
  std::vector<std::string> names_;
  std::vector<Block> blocks_;
  int64_t out_channels_ = 0;
  int64_t stride_ = 0;
  std::shared_ptr<const Int8MobileNetV1> int8_;  // set by enable_int8_inference
};

}  // namespace mda
