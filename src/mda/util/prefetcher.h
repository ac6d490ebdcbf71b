// Runs a loader for items 0..n-1 on worker threads, at most `depth` items ahead of the consumer,
// and hands the results over in order. Used to decode images while the network runs.
//
// A loader that throws does not stop the others: next() returns that item with its error text,
// and the consumer decides whether to fail or to skip it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mda {

template <typename T>
class Prefetcher {
 public:
  struct Item {
    size_t index = 0;
    std::optional<T> value;  // empty when the loader failed
    std::string error;       // the loader's exception text
  };

  Prefetcher(size_t count, int threads, size_t depth, std::function<T(size_t)> load)
      : count_(count), depth_(depth < 1 ? 1 : depth), load_(std::move(load)) {
    const int workers = threads < 1 ? 1 : threads;
    for (int t = 0; t < workers; ++t) workers_.emplace_back([this] { work(); });
  }

  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next item in index order; std::nullopt after the last one.
  std::optional<Item> next() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (consumed_ >= count_) return std::nullopt;
    changed_.wait(lock, [this] { return ready_.count(consumed_) > 0; });
    Item item = std::move(ready_[consumed_]);
    ready_.erase(consumed_);
    ++consumed_;
    lock.unlock();
    changed_.notify_all();
    return item;
  }

 private:
  void work() {
    while (true) {
      size_t index;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] {
          return stopping_ || (next_to_load_ < count_ && next_to_load_ < consumed_ + depth_);
        });
        if (stopping_) return;
        index = next_to_load_++;
      }
      Item item;
      item.index = index;
      try {
        item.value = load_(index);
      } catch (const std::exception& error) {
        item.error = error.what();
      } catch (...) {
        item.error = "unknown error";
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_[index] = std::move(item);
      }
      changed_.notify_all();
    }
  }

  const size_t count_;
  const size_t depth_;
  std::function<T(size_t)> load_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<size_t, Item> ready_;
  size_t next_to_load_ = 0;
  size_t consumed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace mda
