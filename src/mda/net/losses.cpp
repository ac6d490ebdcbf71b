#include "mda/net/losses.h"

#include "mda/util/error.h"

namespace mda {

torch::Tensor contrastive_loss(const torch::Tensor& query, const torch::Tensor& others,
                               const std::vector<int>& labels, double margin) {
  if (query.dim() != 2 || others.dim() != 3 || others.size(1) != query.size(0) ||
      others.size(2) != query.size(1)) {
    fail("contrastive loss: query must be N x C and others M x N x C");
  }
  if (static_cast<int64_t>(labels.size()) != others.size(0)) {
    fail("contrastive loss: ", labels.size(), " labels for ", others.size(0), " images");
  }
  torch::Tensor total = torch::zeros({}, query.options());
  for (size_t m = 0; m < labels.size(); ++m) {
    const torch::Tensor squared = (query - others[static_cast<int64_t>(m)]).pow(2).sum(1);  // N
    if (labels[m] == 1) {
      total = total + squared.sum();
    } else if (labels[m] == 0) {
      total = total + torch::clamp_min(margin - (squared + 1e-12).sqrt(), 0).pow(2).sum();
    } else {
      fail("contrastive loss: label ", labels[m], " is neither 0 nor 1");
    }
  }
  return total;
}

torch::Tensor diversity_regularizer(const torch::Tensor& attention) {
  if (attention.dim() != 4) fail("diversity regulariser: attention must be B x N x H x W");
  const int64_t b = attention.size(0), n = attention.size(1);
  if (n < 2) return torch::zeros({}, attention.options());
  const torch::Tensor root =
      (0.5 * torch::log_softmax(attention.reshape({b, n, -1}), 2)).exp();  // B x N x HW
  const torch::Tensor coefficients = root.bmm(root.transpose(1, 2));       // B x N x N
  // Sum over i != j: all pairs minus the diagonal (each self-coefficient is 1 up to rounding).
  const torch::Tensor off_diagonal =
      coefficients.sum({1, 2}) - coefficients.diagonal(0, 1, 2).sum(1);
  const torch::Tensor per_image = off_diagonal / static_cast<double>(n * (n - 1)) - 1.0;
  return per_image.mean();
}

}  // namespace mda
