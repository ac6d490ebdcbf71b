#include "mda/net/pca_whitening.h"

#include "mda/util/error.h"

namespace mda {

Whitening pca_whitening(const torch::Tensor& descriptors, int64_t out) {
  if (descriptors.dim() != 2 || descriptors.size(0) < 2)
    fail("PCA-whitening needs an n x d matrix with n > 1");
  const int64_t d = descriptors.size(1);
  if (out < 1 || out > d) fail("PCA-whitening to ", out, " dimensions from ", d);
  const torch::Tensor x = descriptors.to(torch::kFloat64);
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor centred = x - mean;
  torch::Tensor covariance = centred.t().mm(centred) / static_cast<double>(x.size(0));
  covariance = (covariance + covariance.t()) / 2;                 // exactly symmetric
  auto [values, vectors] = torch::linalg::eigh(covariance, "L");  // ascending
  const torch::Tensor order = torch::argsort(values, /*dim=*/0, /*descending=*/true);
  values = values.index_select(0, order).clamp_min(1e-14);
  vectors = vectors.index_select(1, order);
  const torch::Tensor projection = values.pow(-0.5).unsqueeze(1) * vectors.t();  // d x d
  Whitening w;
  w.weight = projection.narrow(0, 0, out).to(torch::kFloat32).contiguous();
  w.bias = (-projection.mv(mean)).narrow(0, 0, out).to(torch::kFloat32).contiguous();
  return w;
}

void set_reduction(MdaNetImpl& net, const Whitening& whitening) {
  auto* reduction = net.named_modules()["reduction"]->as<torch::nn::Conv2dImpl>();
  if (!reduction) fail("internal: the network has no reduction layer");
  const auto shape = reduction->weight.sizes().vec();  // C_T x Cs x 1 x 1
  if (whitening.weight.size(0) != shape[0] || whitening.weight.size(1) != shape[1]) {
    fail("whitening of ", whitening.weight.size(0), " x ", whitening.weight.size(1),
         " does not fit the reduction T of ", shape[0], " x ", shape[1]);
  }
  torch::NoGradGuard no_grad;
  reduction->weight.copy_(whitening.weight.view({shape[0], shape[1], 1, 1}));
  reduction->bias.copy_(whitening.bias);
}

}  // namespace mda
