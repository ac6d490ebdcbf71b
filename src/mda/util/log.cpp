#include "mda/util/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>

namespace mda {
namespace {

struct LogState {
  std::mutex mutex;
  bool quiet = false;
  bool verbose = false;
  std::ofstream file;
  std::string progress_line;  // currently drawn bar, redrawn after each message
  std::string prefix;         // before every message (the MPI rank)
};

LogState& state() {
  static LogState s;
  return s;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

void erase_progress_locked(LogState& s) {
  if (!s.progress_line.empty()) std::fprintf(stderr, "\r\033[K");
}

void redraw_progress_locked(LogState& s) {
  if (!s.progress_line.empty()) std::fprintf(stderr, "\r%s", s.progress_line.c_str());
  std::fflush(stderr);
}

}  // namespace

void set_log_quiet(bool quiet) { state().quiet = quiet; }

void set_log_prefix(const std::string& prefix) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.prefix = prefix;
}
bool log_quiet() { return state().quiet; }
void set_log_verbose(bool verbose) { state().verbose = verbose; }

void set_log_file(const std::string& path) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.file.close();
  s.file.open(path, std::ios::app);
  if (!s.file) fail("cannot open log file '", path, "' for writing");
}

void log_message(LogLevel level, const std::string& message) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.file) {
    s.file << timestamp() << " [" << level_name(level) << "] " << s.prefix << message << '\n';
    s.file.flush();
  }
  const bool show = level >= LogLevel::kWarning || (level == LogLevel::kInfo && !s.quiet) ||
                    (level == LogLevel::kDebug && s.verbose);
  if (!show) return;
  erase_progress_locked(s);
  if (level == LogLevel::kInfo) {
    std::fprintf(stderr, "%s%s\n", s.prefix.c_str(), message.c_str());
  } else {
    std::fprintf(stderr, "%s%s: %s\n", s.prefix.c_str(), level_name(level), message.c_str());
  }
  redraw_progress_locked(s);
}

void log_to_file_only(const std::string& message) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.file) {
    s.file << timestamp() << " [info] " << message << '\n';
    s.file.flush();
  }
}

void log_clear_progress_line() {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  erase_progress_locked(s);
  s.progress_line.clear();
  std::fflush(stderr);
}

void log_set_progress_line(const std::string& line) {
  LogState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.progress_line = line;
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace mda
