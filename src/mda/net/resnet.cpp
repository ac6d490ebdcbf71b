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

// conv then bn in eval mode = conv with weights scaled per output channel by
// gamma / sqrt(var + eps) and bias beta - mean * gamma / sqrt(var + eps). The convolution was made
// without a bias parameter, so the bias is registered as a buffer ("folded_bias") that the
// convolution's `bias` shares: a later to(device) or to(dtype) moves it with the weights. (A
// folded network is for inference only; its state dict is not that of a model file.)
void fold_into(nn::Conv2d& c, const nn::BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  const torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  c->weight.mul_(scale.view({-1, 1, 1, 1}));
  c->bias = c->register_buffer("folded_bias", bn->bias - bn->running_mean * scale);
}

// bn(conv(x)), or the folded convolution alone.
torch::Tensor conv_bn(nn::Conv2d& c, nn::BatchNorm2d& bn, bool folded, const torch::Tensor& x) {
  return folded ? c(x) : bn(c(x));
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
    torch::Tensor out = conv_bn(conv1_, bn1_, folded_, x).relu_();
    if (bottleneck_) {
      out = conv_bn(conv2_, bn2_, folded_, out).relu_();
      out = conv_bn(conv3_, bn3_, folded_, out);
    } else {
      out = conv_bn(conv2_, bn2_, folded_, out);
    }
    if (downsample_.is_empty()) {
      out += x;
    } else if (folded_) {
      out += std::dynamic_pointer_cast<nn::Conv2dImpl>(downsample_->ptr(0))->forward(x);
    } else {
      out += downsample_->forward(x);
    }
    return out.relu_();
  }

  void fold_batch_norm() {
    fold_into(conv1_, bn1_);
    fold_into(conv2_, bn2_);
    if (bottleneck_) fold_into(conv3_, bn3_);
    if (!downsample_.is_empty()) {
      nn::Conv2d c(std::dynamic_pointer_cast<nn::Conv2dImpl>(downsample_->ptr(0)));
      fold_into(
          c, nn::BatchNorm2d(std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(downsample_->ptr(1))));
    }
    folded_ = true;
  }

 private:
  bool bottleneck_;
  bool folded_ = false;
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
    x = conv_bn(conv1_, bn1_, folded_, x).relu_();
    x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& layer : layers_) x = layer->forward(x);
    return x;
  }
  void fold_batch_norm() override {
    if (folded_) return;
    fold_into(conv1_, bn1_);
    for (auto& layer : layers_) {
      for (size_t b = 0; b < layer->size(); ++b)
        std::dynamic_pointer_cast<BlockImpl>(layer->ptr(b))->fold_batch_norm();
    }
    folded_ = true;
  }
  int64_t out_channels() const override { return out_channels_; }
  int64_t stride() const override { return stride_; }

 private:
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  bool folded_ = false;
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
