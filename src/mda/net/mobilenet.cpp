// TensorFlow's MobileNetV1 and V2 (width 1.0), named after the TF scopes so that TFLite weights
// map onto them in order.
#include <vector>

#include "mda/net/backbone.h"
#include "mda/net/int8_mobilenet.h"
#include "mda/net/mobilenet.h"
#include "mda/util/error.h"

namespace mda {

MobileNetImpl::MobileNetImpl(int version, int skip_layer) : version_(version) {
  if (version != 1 && version != 2) fail("MobileNet version must be 1 or 2, found ", version);
  if (skip_layer != 0 && skip_layer != 1)
    fail("MobileNet skip_layer must be 0 or 1, found ", skip_layer);
  const auto add = [&](const std::string& name, int64_t in, int64_t out, int64_t k, int64_t s,
                       bool dw, bool relu6) {
    convs_.push_back(register_module(name, TfConv(in, out, k, s, dw, relu6)));
    names_.push_back(name);
    return static_cast<int>(convs_.size()) - 1;
  };
  if (version == 1) {
    add("Conv2d_0", 3, 32, 3, 2, false, true);
    const int64_t outs[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    const int64_t strides[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    const int last = skip_layer == 1 ? 11 : 13;
    int64_t in = 32;
    for (int i = 1; i <= last; ++i) {
      const std::string scope = "Conv2d_" + std::to_string(i);
      add(scope + "_depthwise", in, in, 3, strides[i - 1], true, true);
      add(scope + "_pointwise", in, outs[i - 1], 1, 1, false, true);
      in = outs[i - 1];
    }
    out_channels_ = in;
  } else {
    add("Conv", 3, 32, 3, 2, false, true);
    add("expanded_conv_depthwise", 32, 32, 3, 1, true, true);
    add("expanded_conv_project", 32, 16, 1, 1, false, false);
    struct Stage {
      int64_t t, c;
      int n;
      int64_t s;
    };
    const Stage stages[] = {{6, 24, 2, 2}, {6, 32, 3, 2},  {6, 64, 4, 2},
                            {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    const int last = skip_layer == 1 ? 12 : 16;
    int64_t in = 16;
    int index = 1;
    for (const Stage& st : stages) {
      for (int b = 0; b < st.n && index <= last; ++b, ++index) {
        const std::string scope = "expanded_conv_" + std::to_string(index);
        const int64_t stride = b == 0 ? st.s : 1;
        const int64_t hidden = in * st.t;
        Block block;
        block.first = add(scope + "_expand", in, hidden, 1, 1, false, true);
        add(scope + "_depthwise", hidden, hidden, 3, stride, true, true);
        block.last = add(scope + "_project", hidden, st.c, 1, 1, false, false);
        block.residual = stride == 1 && in == st.c;
        blocks_.push_back(block);
        in = st.c;
      }
    }
    if (skip_layer == 0) {
      add("Conv_1", in, 1280, 1, 1, false, true);
      in = 1280;
    }
    out_channels_ = in;
  }
  stride_ = skip_layer == 1 ? 16 : 32;
}

std::string MobileNetImpl::enable_int8_inference() {
  if (version_ != 1) {
    return "only MobileNetV1 has an int8 form (MobileNetV2's linear bottlenecks would need "
           "activation steps calibrated on images)";
  }
  const std::string reason = Int8MobileNetV1::unavailable_reason();
  if (reason.empty()) int8_ = std::make_shared<const Int8MobileNetV1>(convs_);
  return reason;
}

torch::Tensor MobileNetImpl::forward(torch::Tensor x) {
  if (int8_ && x.device().is_cpu() && !x.requires_grad()) return int8_->forward(x);
  // TF MobileNets take (p - 128) / 128 for 8-bit p, i.e. 2 x - 1 for x = p / 255 (to 1/256).
  x = x * (255.0 / 128.0) - 1.0;
  size_t next_block = 0;
  for (size_t i = 0; i < convs_.size(); ++i) {
    if (next_block < blocks_.size() && static_cast<int>(i) == blocks_[next_block].first) {
      const Block& block = blocks_[next_block++];
      torch::Tensor y = x;
      for (int k = block.first; k <= block.last; ++k)
        y = convs_[static_cast<size_t>(k)]->forward(y);
      x = block.residual ? x + y : y;
      i = static_cast<size_t>(block.last);
      continue;
    }
    x = convs_[i]->forward(x);
  }
  return x;
}

std::shared_ptr<BackboneImpl> make_mobilenet(const std::string& name, int skip_layer) {
  if (name == "mobilenet_v1") return std::make_shared<MobileNetImpl>(1, skip_layer);
  if (name == "mobilenet_v2") return std::make_shared<MobileNetImpl>(2, skip_layer);
  fail("unknown MobileNet '", name, "'");
}

}  // namespace mda
