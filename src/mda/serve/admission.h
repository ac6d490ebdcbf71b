// Bounded admission of expensive requests: at most `slots` run at once and at most `waiting`
// wait for a slot; a request beyond both is refused at once (HTTP 503), so no queue grows without
// bound under load.
#pragma once

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>

namespace mda {

class Admission {
 public:
  Admission(int slots, int waiting) : slots_(slots), max_waiting_(waiting) {}

  // A slot held until destruction; `admitted()` is false when the request was refused.
  class Ticket {
   public:
    explicit Ticket(Admission* owner) : owner_(owner) {}
    Ticket(Ticket&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() {
      if (owner_) owner_->release();
    }
    bool admitted() const { return owner_ != nullptr; }

   private:
    Admission* owner_;
  };

  Ticket enter() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (running_ >= slots_) {
      if (waiting_ >= max_waiting_) return Ticket(nullptr);
      ++waiting_;
      freed_.wait(lock, [&] { return running_ < slots_; });
      --waiting_;
    }
    ++running_;
    recent_running_ = 0.9 * recent_running_ + 0.1 * running_;
    return Ticket(this);
  }

  // Requests holding a slot now, and requests waiting for one.
  int running() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return running_;
  }
  int waiting() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return waiting_;
  }

  // How many requests share the cores: those holding a slot now, or the recent average when it
  // is higher (a client's gap between two requests would otherwise look like an idle server, and
  // the next request take every core just before another one arrives).
  int sharing() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return std::max(running_, static_cast<int>(std::lround(recent_running_)));
  }

 private:
  void release() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      --running_;
    }
    freed_.notify_one();
  }
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  const int slots_, max_waiting_;
  int running_ = 0, waiting_ = 0;
  double recent_running_ = 0;  // running_ seen by the last admissions, exponentially averaged
};

}  // namespace mda
