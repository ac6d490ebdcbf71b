#include "mda/net/int8_mobilenet.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>

#include "mda/util/cpu_features.h"
#include "mda/util/error.h"

namespace mda {
namespace {

constexpr double kReluSixStep = 6.0 / 255;
constexpr double kInputStep = 1.0 / 128;
constexpr int64_t kInputZeroPoint = 128;

c10::OperatorHandle operator_named(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

// A float weight rounded per output channel to int8.
torch::Tensor quantized_weight(const torch::Tensor& weight) {
  const torch::Tensor w = weight.detach().to(torch::kFloat32).contiguous();
  const torch::Tensor steps =
      std::get<0>(w.abs().flatten(1).max(1)).div(127).clamp_min(1e-12).to(torch::kDouble);
  const torch::Tensor zero_points = torch::zeros({w.size(0)}, torch::kLong);
  return at::quantize_per_channel(w, steps, zero_points, 0, torch::kQInt8);
}

}  // namespace

// One convolution: a single packing, or for a stride-2 3x3 one a packing per parity of the
// input's height and width (variant 2 * even_height + even_width).
struct Int8MobileNetV1::Layer {
  bool by_parity = false;
  int64_t stride = 1, padding = 0, groups = 1;
  std::array<torch::Tensor, 4> weights;  // int8, per variant
  torch::Tensor bias;
  std::array<c10::IValue, 4> packed;
  // oneDNN (libtorch 1.13) keeps a packing's weights in the layout chosen for the first input size
  // it ran on, and for some later sizes (small inputs of 1x1 convolutions) cannot reorder them and
  // throws: such a size gets a packing of its own, kept here by (variant, height, width).
  std::mutex mutex;
  std::map<std::array<int64_t, 3>, c10::IValue> by_size;

  c10::IValue pack(size_t variant) const {
    static const c10::OperatorHandle prepack = operator_named("quantized::conv2d_prepack", "");
    std::vector<c10::IValue> stack{weights[variant],
                                   c10::optional<torch::Tensor>(bias),
                                   c10::List<int64_t>({stride, stride}),
                                   c10::List<int64_t>({padding, padding}),
                                   c10::List<int64_t>({1, 1}),
                                   groups};
    prepack.callBoxed(&stack);
    return stack.at(0);
  }

  torch::Tensor run(const torch::Tensor& q) {
    static const c10::OperatorHandle conv_relu = operator_named("quantized::conv2d_relu", "new");
    const size_t variant =
        by_parity ? static_cast<size_t>(2 * (q.size(2) % 2 == 0) + (q.size(3) % 2 == 0)) : 0;
    const std::array<int64_t, 3> key{static_cast<int64_t>(variant), q.size(2), q.size(3)};
    const auto apply = [&](const c10::IValue& packing) {
      std::vector<c10::IValue> stack{q, packing, kReluSixStep, int64_t{0}};
      conv_relu.callBoxed(&stack);
      return stack.at(0).toTensor();
    };
    c10::IValue packing = packed[variant];
    {
      std::lock_guard<std::mutex> lock(mutex);
      const auto found = by_size.find(key);
      if (found != by_size.end()) packing = found->second;
    }
    try {
      return apply(packing);
    } catch (const std::exception&) {  // oneDNN throws its own dnnl::error
      if (!packing.isSameIdentity(packed[variant])) throw;
    }
    c10::IValue own = pack(variant);
    torch::Tensor out = apply(own);  // a failure here is a real one: it propagates
    std::lock_guard<std::mutex> lock(mutex);
    if (by_size.size() >= 64) by_size.clear();  // a bound on memory for endless new sizes
    by_size.emplace(key, std::move(own));
    return out;
  }
};

std::string Int8MobileNetV1::unavailable_reason() {
  const auto& engines = at::globalContext().supportedQEngines();
  if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) == engines.end())
    return "this libtorch has no oneDNN quantized engine";
  // Without VNNI oneDNN sums pairs of 8-bit products in saturating 16-bit lanes, which full-range
  // activations can overflow, and gains little over float.
  if (!cpu_has_vnni()) return "this CPU has no VNNI instructions (AVX512_VNNI or AVX-VNNI)";
  return "";
}

Int8MobileNetV1::Int8MobileNetV1(const std::vector<TfConv>& convs) {
  const std::string reason = unavailable_reason();
  if (!reason.empty()) fail("int8 MobileNetV1: ", reason);
  at::globalContext().setQEngine(at::QEngine::ONEDNN);
  torch::NoGradGuard no_grad;
  for (const TfConv& conv : convs) {
    const int64_t k = conv->kernel, s = conv->stride;
    if (!conv->relu6 || (k != 1 && k != 3) || (s != 1 && s != 2) || (k == 1 && s != 1))
      fail("int8 MobileNetV1: a ", k, "x", k, " stride-", s, " convolution",
           conv->relu6 ? "" : " without ReLU6", " has no int8 form here");
    const torch::Tensor& weight = conv->conv->weight;
    const torch::Tensor& bias = conv->conv->bias;
    const int64_t groups = conv->depthwise ? conv->in_channels : 1;
    auto layer = std::make_unique<Layer>();
    layer->stride = s;
    layer->padding = k == 3 ? 1 : 0;
    layer->groups = groups;
    layer->bias = bias.detach().to(torch::kFloat32).contiguous();
    if (k == 3 && s == 2) {
      layer->by_parity = true;
      for (int even_h = 0; even_h < 2; ++even_h) {
        for (int even_w = 0; even_w < 2; ++even_w) {
          // pad(left, right, top, bottom) on the kernel's last two dimensions.
          layer->weights[static_cast<size_t>(2 * even_h + even_w)] =
              quantized_weight(torch::constant_pad_nd(weight.detach(), {even_w, 0, even_h, 0}, 0));
        }
      }
    } else {
      layer->weights[0] = quantized_weight(weight);
    }
    for (size_t v = 0; v < (layer->by_parity ? 4u : 1u); ++v) layer->packed[v] = layer->pack(v);
    layers_.push_back(std::move(layer));
  }
}

Int8MobileNetV1::~Int8MobileNetV1() = default;

torch::Tensor Int8MobileNetV1::forward(const torch::Tensor& x) const {
  if (x.dim() != 4 || x.size(1) != 3 || !x.device().is_cpu())
    fail("int8 MobileNetV1 takes B x 3 x H x W on the CPU, found ", x.sizes());
  // 8-bit pixels p stand for (p - 128) / 128, as the float path's 255 x / 128 - 1.
  const torch::Tensor pixels = x.mul(255)
                                   .round_()
                                   .clamp_(0, 255)
                                   .to(torch::kUInt8)
                                   .contiguous(torch::MemoryFormat::ChannelsLast);
  torch::Tensor q = at::_make_per_tensor_quantized_tensor(pixels, kInputStep, kInputZeroPoint);
  for (const auto& layer : layers_) q = layer->run(q);
  return q.dequantize();
}

}  // namespace mda
