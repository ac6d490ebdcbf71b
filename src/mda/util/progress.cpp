#include "mda/util/progress.h"

#include <unistd.h>

#include <cstdio>

#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      interactive_(isatty(STDERR_FILENO) != 0) {
  if (!log_quiet() && interactive_) draw(0, false);
}

Progress::~Progress() { finish(); }

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t count) {
  const int64_t done = done_.fetch_add(count) + count;
  if (log_quiet()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
    last_draw_ = now;
    draw(done, false);
  } else if (total_ > 0) {
    const int decile = static_cast<int>(done * 10 / total_);
    // Plain logs get a line per tenth of the work, and no more than one every two seconds.
    if (decile > last_decile_ && done < total_ && now - last_draw_ >= std::chrono::seconds(2)) {
      last_decile_ = decile;
      last_draw_ = now;
      draw(done, false);
    }
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  const int64_t done = done_.load();
  const double seconds = elapsed_seconds();
  const double rate = seconds > 0 ? done / seconds : 0.0;
  char summary[256];
  std::snprintf(summary, sizeof summary, "%s: %lld/%lld %s in %s (%.2f %s/s)", label_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(),
                format_duration(seconds).c_str(), rate, unit_.c_str());
  if (log_quiet()) {
    log_to_file_only(summary);
    return;
  }
  if (interactive_) log_clear_progress_line();
  log_info(summary);
}

void Progress::draw(int64_t done, bool /*final_line*/) {
  const double seconds = elapsed_seconds();
  const double rate = seconds > 0 ? done / seconds : 0.0;
  const double eta = (rate > 0 && total_ > done) ? (total_ - done) / rate : 0.0;
  const double fraction = total_ > 0 ? static_cast<double>(done) / total_ : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  char line[320];
  std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %5.1f%% %.2f %s/s ETA %s", label_.c_str(),
                bar.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                100.0 * fraction, rate, unit_.c_str(),
                done > 0 ? format_duration(eta).c_str() : "--");
  if (interactive_) {
    log_set_progress_line(line);
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
}

}  // namespace mda
