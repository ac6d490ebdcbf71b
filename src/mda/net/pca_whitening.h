// HOW's initialisation of the reduction T (method.md 4.1): PCA-whitening learned from backbone
// descriptors, P = diag(eigval^-1/2) eigvec^T over the covariance's eigenpairs sorted by
// decreasing eigenvalue (clipped at 1e-14); T's weight = the first C_T rows of P, its bias =
// -(P mean) for those rows.
#pragma once

#include <torch/torch.h>

#include "mda/net/mda_net.h"

namespace mda {

struct Whitening {
  torch::Tensor weight;  // out x d
  torch::Tensor bias;    // out
};

// Count, sum and sum of outer products of descriptor rows, in float64: whitening from millions of
// descriptors (HOW: 5000 images x 1000) then needs d x d memory, not n x d.
class WhiteningStatistics {
 public:
  void add(const torch::Tensor& rows);  // n x d, on any device
  int64_t count() const { return count_; }
  // Needs count() > 1 and out <= d.
  Whitening whitening(int64_t out) const;

 private:
  int64_t count_ = 0;
  torch::Tensor sum_, outer_;
};

// descriptors: n x d (rows); needs n > 1 and out <= d.
Whitening pca_whitening(const torch::Tensor& descriptors, int64_t out);

// Copies the whitening into the network's reduction layer T (shapes must match C_T x Cs).
void set_reduction(MdaNetImpl& net, const Whitening& whitening);

}  // namespace mda
