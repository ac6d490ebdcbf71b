// FNV-1a 64-bit: the checksum of the project's binary files (model archives, inverted files).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mda {

inline uint64_t fnv1a64(const uint8_t* data, size_t size, uint64_t hash = 0xcbf29ce484222325ULL) {
  for (size_t i = 0; i < size; ++i) {
    hash ^= data[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace mda
