// Fixed-width integers in a byte buffer, in an explicit byte order: the write-ahead log's fields
// (little-endian) and the image headers read before decoding (both orders).
#pragma once

#include <cstdint>
#include <vector>

namespace mda {

// The `bytes` (1..8) bytes at `in` as an unsigned little- or big-endian number.
inline uint64_t load_le(const uint8_t* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
  return value;
}

inline uint64_t load_be(const uint8_t* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | in[i];
  return value;
}

// Appends the low `bytes` (1..8) bytes of `value`, least significant first.
inline void append_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace mda
