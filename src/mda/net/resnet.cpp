// ResNet backbones with torchvision's module names (conv1, bn1, layer1.0.conv1, ... downsample.0).
#include <vector>

#include "mda/net/backbone.h"
#include "mda/util/error.h"

namespace mda {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(padding).bias(false));
}

class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck) : bottleneck_(bottleneck) {
    const int64_t expansion = bottleneck ? 4 : 1;
    if (bottleneck) {
      conv1_ = register_module("conv1", conv(in, planes, 1, 1, 0));
      bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
      conv2_ =
          register_module("conv2", conv(planes, planes, 3, stride, 1));  // stride on 3x3 (v1.5)
      bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
      conv3_ = register_module("conv3", conv(planes, planes * 4, 1, 1, 0));
      bn3_ = register_module("bn3", nn::BatchNorm2d(planes * 4));
    } else {
      conv1_ = register_module("conv1", conv(in, planes, 3, stride, 1));
      bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
      conv2_ = register_module("conv2", conv(planes, planes, 3, 1, 1));
      bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    }
    if (stride != 1 || in != planes * expansion) {
      downsample_ =
          register_module("downsample", nn::Sequential(conv(in, planes * expansion, 1, stride, 0),
                                                       nn::BatchNorm2d(planes * expansion)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    // In-place ReLU and residual addition, as torchvision: large feature maps make memory
    // traffic, not arithmetic, the cost of these steps.
    torch::Tensor out = bn1_(conv1_(x)).relu_();
    if (bottleneck_) {
      out = bn2_(conv2_(out)).relu_();
      out = bn3_(conv3_(out));
    } else {
      out = bn2_(conv2_(out));
    }
    out += downsample_.is_empty() ? x : downsample_->forward(x);
    return out.relu_();
  }

 private:
  bool bottleneck_;
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

class ResNetImpl : public BackboneImpl {
 public:
  ResNetImpl(const std::vector<int>& blocks, bool bottleneck, int skip_layer) {
    conv1_ = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
    const int64_t expansion = bottleneck ? 4 : 1;
    int64_t in = 64;
    const int stages = 4 - skip_layer;
    for (int s = 0; s < stages; ++s) {
      const int64_t planes = 64 << s;
      nn::Sequential layer;
      for (int b = 0; b < blocks[static_cast<size_t>(s)]; ++b) {
        layer->push_back(Block(in, planes, (b == 0 && s > 0) ? 2 : 1, bottleneck));
        in = planes * expansion;
      }
      layers_.push_back(register_module("layer" + std::to_string(s + 1), layer));
    }
    out_channels_ = in;
    stride_ = int64_t{4} << (stages - 1);
    // ImageNet normalisation: constants of the architecture, not parameters (not in state dicts).
    mean_ = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    std_ = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = (x - mean_.to(x.options())) / std_.to(x.options());
    x = bn1_(conv1_(x)).relu_();
    x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& layer : layers_) x = layer->forward(x);
    return x;
  }
  int64_t out_channels() const override { return out_channels_; }
  int64_t stride() const override { return stride_; }

 private:
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  std::vector<nn::Sequential> layers_;
  torch::Tensor mean_, std_;
  int64_t out_channels_ = 0;
  int64_t stride_ = 0;
};

}  // namespace

std::shared_ptr<BackboneImpl> make_resnet(const std::string& name, int skip_layer) {
  if (skip_layer < 0 || skip_layer > 3) fail("ResNet skip_layer must be 0..3, found ", skip_layer);
  if (name == "resnet18")
    return std::make_shared<ResNetImpl>(std::vector<int>{2, 2, 2, 2}, false, skip_layer);
  if (name == "resnet34")
    return std::make_shared<ResNetImpl>(std::vector<int>{3, 4, 6, 3}, false, skip_layer);
  if (name == "resnet50")
    return std::make_shared<ResNetImpl>(std::vector<int>{3, 4, 6, 3}, true, skip_layer);
  if (name == "resnet101")
    return std::make_shared<ResNetImpl>(std::vector<int>{3, 4, 23, 3}, true, skip_layer);
  fail("unknown ResNet '", name, "'");
}

std::shared_ptr<BackboneImpl> make_backbone(const std::string& name, int skip_layer) {
  if (name.rfind("resnet", 0) == 0) return make_resnet(name, skip_layer);
  if (name.rfind("mobilenet", 0) == 0) return make_mobilenet(name, skip_layer);
  fail("unknown backbone '", name, "'");
}

}  // namespace mda
