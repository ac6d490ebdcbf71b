// MDA's training losses (method.md 1.7): the contrastive loss on every head's pooled descriptor
// (Eq. 5) and the Hellinger diversity regulariser between heads (Eqs. 6-9).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace mda {

// query: N x C, L2-normalised head descriptors of the query; others: M x N x C of the other
// images of the tuple; labels: M values, 1 = matching (positive), 0 = non-matching. Returns
//   sum over pairs and heads of  y d^2 + (1 - y) max(0, margin - d)^2,  d = ||q - x||
// (the paper's Eq. 5, without cirtorch's factor 1/2). d is sqrt(d^2 + 1e-12) in the hinge so that
// its gradient stays finite for identical descriptors.
torch::Tensor contrastive_loss(const torch::Tensor& query, const torch::Tensor& others,
                               const std::vector<int>& labels, double margin);

// attention: B x N x H x W (positive maps of each image's N heads). For each image,
//   L_reg = 1 / (N (N - 1)) sum_{i != j} ( <sqrt(softmax a_i), sqrt(softmax a_j)> - 1 ),
// softmax over all H x W positions, sqrt(softmax) computed as exp(log_softmax / 2); the result is
// the mean over the B images, in [-1, 0]; 0 when N = 1.
torch::Tensor diversity_regularizer(const torch::Tensor& attention);

}  // namespace mda
