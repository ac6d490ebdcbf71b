// Process-wide logging: info to stderr unless quiet, everything to an optional log file.
#pragma once

#include <string>

#include "mda/util/error.h"

namespace mda {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Quiet mode keeps warnings and errors on stderr and silences info lines and progress bars.
void set_log_quiet(bool quiet);
bool log_quiet();
void set_log_verbose(bool verbose);
// Put before every message (on stderr and in the log file): "rank 1/4: " in an MPI job.
void set_log_prefix(const std::string& prefix);
// Appends every message, with a timestamp, to this file (created if missing).
void set_log_file(const std::string& path);
void log_message(LogLevel level, const std::string& message);

template <typename... Parts>
void log_info(Parts&&... parts) {
  log_message(LogLevel::kInfo, cat(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_warning(Parts&&... parts) {
  log_message(LogLevel::kWarning, cat(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_error(Parts&&... parts) {
  log_message(LogLevel::kError, cat(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_debug(Parts&&... parts) {
  log_message(LogLevel::kDebug, cat(std::forward<Parts>(parts)...));
}

// Writes a line to the log file only (used by progress bars for their final summary).
void log_to_file_only(const std::string& message);
// The progress bar owns the terminal line; logging clears it first.
void log_clear_progress_line();
void log_set_progress_line(const std::string& line);

}  // namespace mda
