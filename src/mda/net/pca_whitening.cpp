#include "mda/net/pca_whitening.h"

#include "mda/util/error.h"

namespace mda {

void WhiteningStatistics::add(const torch::Tensor& rows) {
  if (rows.dim() != 2) fail("whitening statistics need an n x d matrix");
  const torch::Tensor x = rows.to(torch::kCPU, torch::kFloat64);
  if (!sum_.defined()) {
    sum_ = torch::zeros({x.size(1)}, torch::kFloat64);
    outer_ = torch::zeros({x.size(1), x.size(1)}, torch::kFloat64);
  }
  if (x.size(1) != sum_.size(0))
    fail("whitening statistics: rows of dimension ", x.size(1), " after ", sum_.size(0));
  count_ += x.size(0);
  sum_ += x.sum(0);
  outer_.addmm_(x.t(), x);
}

Whitening WhiteningStatistics::whitening(int64_t out) const {
  if (count_ < 2) fail("PCA-whitening needs more than one descriptor, found ", count_);
  const int64_t d = sum_.size(0);
  if (out < 1 || out > d) fail("PCA-whitening to ", out, " dimensions from ", d);
  const double n = static_cast<double>(count_);
  const torch::Tensor mean = sum_ / n;
  torch::Tensor covariance = outer_ / n - torch::outer(mean, mean);
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

Whitening pca_whitening(const torch::Tensor& descriptors, int64_t out) {
  if (descriptors.dim() != 2 || descriptors.size(0) < 2)
    fail("PCA-whitening needs an n x d matrix with n > 1");
  WhiteningStatistics statistics;
  statistics.add(descriptors);
  return statistics.whitening(out);
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
