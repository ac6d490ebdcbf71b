// A versioned binary container of named arrays plus a JSON header, used for model files:
//
//   bytes 0-7   magic "MDATENSR"
//   bytes 8-11  format version (uint32, little endian), currently 1
//   bytes 12-19 header length H (uint64)
//   H bytes     JSON: {"kind": ..., "meta": {...}, "tensors": [{"name", "dtype", "shape", "offset",
//   "bytes"}]} data        the arrays, each at its offset from the start of this section, 64-byte
//   aligned last 8      FNV-1a 64-bit checksum of everything before it
//
// Reading checks the magic, version, kind, sizes and checksum, so a truncated or foreign file is an
// error naming the file, never a silently wrong model.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mda/io/ndarray.h"
#include "mda/io/value.h"

namespace mda {

struct TensorArchive {
  std::string kind;  // what the file holds, e.g. "mda-model"
  Value meta = Value::empty_dict();
  std::vector<std::pair<std::string, NdArray>> tensors;

  const NdArray* find(const std::string& name) const;
};

constexpr uint32_t kTensorArchiveVersion = 1;

void write_tensor_archive(const std::string& path, const TensorArchive& archive);  // atomic
// `expected_kind` empty accepts any kind.
TensorArchive read_tensor_archive(const std::string& path, const std::string& expected_kind);

}  // namespace mda
