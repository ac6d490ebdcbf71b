#include "mda/net/tf_conv.h"

namespace mda {

TfConvImpl::TfConvImpl(int64_t in, int64_t out, int64_t k, int64_t s, bool dw, bool r6)
    : in_channels(in), out_channels(out), kernel(k), stride(s), depthwise(dw), relu6(r6) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k)
                                                       .stride(s)
                                                       .padding(0)
                                                       .groups(dw ? in : 1)
                                                       .bias(true)));
}

torch::Tensor TfConvImpl::forward(torch::Tensor x) {
  if (kernel > 1 || stride > 1) {
    const auto same = [&](int64_t size) {
      const int64_t out = (size + stride - 1) / stride;
      const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
      return std::pair<int64_t, int64_t>(total / 2, total - total / 2);
    };
    const auto [top, bottom] = same(x.size(2));
    const auto [left, right] = same(x.size(3));
    if (top || bottom || left || right)
      x = torch::constant_pad_nd(x, {left, right, top, bottom}, 0);
  }
  x = conv(x);
  return relu6 ? x.clamp_(0, 6) : x;
}

}  // namespace mda
