#include "mda/util/allocator_tuning.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern char** environ;

namespace mda {
namespace {

std::string& description() {
  static std::string text;
  return text;
}

std::string tune() {
#if defined(__GLIBC__)
  for (char** variable = environ; variable && *variable; ++variable) {
    if (std::strncmp(*variable, "GLIBC_TUNABLES=", 15) == 0 ||
        std::strncmp(*variable, "MALLOC_", 7) == 0)
      return "malloc: left as the environment configures it";
  }
  // Blocks up to 1 GiB from the heap (glibc versions that cap the threshold at 32 MB refuse the
  // larger value: 32 MB then), and up to 2 GiB of free heap kept rather than trimmed.
  const bool large = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1;
  if (!large) mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 2147483647);
  return std::string("malloc: freed blocks kept for reuse (mmap threshold ") +
         (large ? "1 GiB" : "32 MiB") + ", trim threshold 2 GiB)";
#else
  return "malloc: left as it is (not glibc)";
#endif
}

}  // namespace

void keep_freed_memory_for_reuse() { description() = tune(); }

const std::string& allocator_tuning() { return description(); }

}  // namespace mda
