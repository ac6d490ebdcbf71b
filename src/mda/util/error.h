// The one exception type of the library: every input error names the file and the offending value.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace mda {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable into one string: cat("bad value '", v, "' in ", path).
// A mistake in how a command or function was called (the program's exit status 2), as opposed to
// a failure while running (1): a missing or contradictory option, an unknown name.
class UsageError : public Error {
 public:
  using Error::Error;
};

template <typename... Parts>
std::string cat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(cat(std::forward<Parts>(parts)...));
}

}  // namespace mda
