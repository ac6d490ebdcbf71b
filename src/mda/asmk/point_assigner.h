// Nearest-centroid search over a fixed set of points: where k-means spends its time. The CPU
// backend (BLAS, ties to the lower index) is built in; a build with libtorch adds "torch-cpu" and
// "cuda" (register_torch_point_assigners, called by the mda binary, the benchmarks and the tests).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mda {

class PointAssigner {
 public:
  virtual ~PointAssigner() = default;
  // For every point, the `count` nearest of the k centroids (k x dim, row-major), nearest first:
  // indices and squared L2 distances, points x count each.
  virtual void assign(const float* centroids, int64_t k, int count, int32_t* indices,
                      float* distances) = 0;
};

// Makes an assigner for n points of dimension dim (row-major). The points must outlive it.
using PointAssignerFactory = std::function<std::unique_ptr<PointAssigner>(
    const float* points, int64_t n, int64_t dim, int threads)>;

void register_point_assigner(const std::string& device, PointAssignerFactory factory);

// The devices registered so far, "cpu" first.
std::vector<std::string> point_assigner_devices();

// Throws naming the device and the registered ones when `device` is unknown.
std::unique_ptr<PointAssigner> make_point_assigner(const std::string& device, const float* points,
                                                   int64_t n, int64_t dim, int threads);

}  // namespace mda
