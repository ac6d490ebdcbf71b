#include "mda/net/torch_point_assigner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>

#include "mda/asmk/point_assigner.h"
#include "mda/util/error.h"

namespace mda {
namespace {

class TorchPointAssigner : public PointAssigner {
 public:
  TorchPointAssigner(const float* points, int64_t n, int64_t dim, torch::Device device)
      : n_(n), dim_(dim), device_(device) {
    torch::NoGradGuard no_grad;
    points_ = torch::from_blob(const_cast<float*>(points), {n, dim}, torch::kFloat32)
                  .to(device, /*non_blocking=*/false, /*copy=*/true);
    point_norms_ = points_.square().sum(1);
  }

  void assign(const float* centroids, int64_t k, int count, int32_t* indices,
              float* distances) override {
    if (count < 1 || count > k) fail("nearest centroids: count must be 1..", k, ", found ", count);
    torch::NoGradGuard no_grad;
    const torch::Tensor words =
        torch::from_blob(const_cast<float*>(centroids), {k, dim_}, torch::kFloat32).to(device_);
    const torch::Tensor word_norms = words.square().sum(1).unsqueeze(0);
    const torch::Tensor words_t = words.t();
    torch::Tensor all_indices =
        torch::empty({n_, count}, torch::dtype(torch::kInt32).device(device_));
    torch::Tensor all_distances =
        torch::empty({n_, count}, torch::dtype(torch::kFloat32).device(device_));
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 28) / k);
    for (int64_t start = 0; start < n_; start += block) {
      const int64_t m = std::min(block, n_ - start);
      // ||x||^2 does not change the order: select on ||c||^2 - 2 x.c, add it afterwards.
      const torch::Tensor partial = torch::addmm(word_norms, points_.narrow(0, start, m), words_t,
                                                 /*beta=*/1, /*alpha=*/-2);
      torch::Tensor value, index;
      if (count == 1) {
        std::tie(value, index) = partial.min(1, /*keepdim=*/true);
      } else {
        std::tie(value, index) = partial.topk(count, 1, /*largest=*/false, /*sorted=*/true);
      }
      all_distances.narrow(0, start, m)
          .copy_((value + point_norms_.narrow(0, start, m).unsqueeze(1)).clamp_min(0));
      all_indices.narrow(0, start, m).copy_(index);
    }
    const torch::Tensor host_indices = all_indices.cpu().contiguous();
    const torch::Tensor host_distances = all_distances.cpu().contiguous();
    std::memcpy(indices, host_indices.data_ptr<int32_t>(),
                static_cast<size_t>(n_ * count) * sizeof(int32_t));
    std::memcpy(distances, host_distances.data_ptr<float>(),
                static_cast<size_t>(n_ * count) * sizeof(float));
  }

 private:
  int64_t n_, dim_;
  torch::Device device_;
  torch::Tensor points_, point_norms_;
};

}  // namespace

void register_torch_point_assigners() {
  register_point_assigner("torch-cpu", [](const float* points, int64_t n, int64_t dim, int) {
    return std::make_unique<TorchPointAssigner>(points, n, dim, torch::Device(torch::kCPU));
  });
  register_point_assigner("cuda", [](const float* points, int64_t n, int64_t dim, int) {
    if (!torch::cuda::is_available()) fail("device 'cuda': no CUDA device is visible to libtorch");
    return std::make_unique<TorchPointAssigner>(points, n, dim, torch::Device(torch::kCUDA));
  });
}

}  // namespace mda
