// A progress bar with rate and ETA for long loops (images, epochs, queries).
//
// On a terminal it redraws one line at most ten times a second; when stderr is a file or a pipe it
// prints a plain line at every tenth of the work, so CI logs stay short. Quiet mode hides it; the
// log file always receives the final summary. Thread-safe: workers may call advance() concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace mda {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t count = 1);
  // Prints the final line (done count, elapsed time, mean rate). Called by the destructor if
  // needed.
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(int64_t done, bool final_line);

  std::string label_;
  std::string unit_;
  int64_t total_;
  std::atomic<int64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  int last_decile_ = -1;
  bool finished_ = false;
  bool interactive_;
  std::mutex mutex_;
};

}  // namespace mda
