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

// descriptors: n x d (rows); needs n > 1 and out <= d.
Whitening pca_whitening(const torch::Tensor& descriptors, int64_t out);

// Copies the whitening into the network's reduction layer T (shapes must match C_T x Cs).
void set_reduction(MdaNetImpl& net, const Whitening& whitening);

}  // namespace mda
