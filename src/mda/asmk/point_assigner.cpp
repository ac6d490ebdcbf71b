#include "mda/asmk/point_assigner.h"

#include <map>
#include <mutex>

#include "mda/asmk/matrix.h"
#include "mda/util/error.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

class BlasPointAssigner : public PointAssigner {
 public:
  BlasPointAssigner(const float* points, int64_t n, int64_t dim, int threads)
      : points_(points), n_(n), dim_(dim), threads_(threads) {}

  void assign(const float* centroids, int64_t k, int count, int32_t* indices,
              float* distances) override {
    nearest_centroids(points_, n_, centroids, row_norms(centroids, k, dim_), k, dim_, count,
                      indices, distances, threads_);
  }

 private:
  const float* points_;
  int64_t n_, dim_;
  int threads_;
};

struct Registry {
  std::mutex mutex;
  std::map<std::string, PointAssignerFactory> factories;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_point_assigner(const std::string& device, PointAssignerFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[device] = std::move(factory);
}

std::vector<std::string> point_assigner_devices() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> devices{"cpu"};
  for (const auto& entry : r.factories) devices.push_back(entry.first);
  return devices;
}

std::unique_ptr<PointAssigner> make_point_assigner(const std::string& device, const float* points,
                                                   int64_t n, int64_t dim, int threads) {
  if (device == "cpu") return std::make_unique<BlasPointAssigner>(points, n, dim, threads);
  PointAssignerFactory factory;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto found = r.factories.find(device);
    if (found != r.factories.end()) factory = found->second;
  }
  if (!factory) {
    fail("no nearest-centroid backend for device '", device,
         "' in this build (available: ", join(point_assigner_devices(), ", "), ")");
  }
  return factory(points, n, dim, threads);
}

}  // namespace mda
