// A read-only float array that owns its values or points into memory another object keeps alive
// (a memory-mapped file); copies share it. Lets a large array be used in place where it lies.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace mda {

class SharedFloats {
 public:
  SharedFloats() = default;
  explicit SharedFloats(std::vector<float> values) {
    auto owned = std::make_shared<const std::vector<float>>(std::move(values));
    data_ = owned->data();
    size_ = owned->size();
    owner_ = std::move(owned);
  }
  // `data` stays valid while `owner` lives.
  SharedFloats(std::shared_ptr<const void> owner, const float* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

  const float* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const float* begin() const { return data_; }
  const float* end() const { return data_ + size_; }

 private:
  std::shared_ptr<const void> owner_;
  const float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mda
