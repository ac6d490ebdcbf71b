// NumPy .npy files: header versions 1 to 3, little-endian, C order, dtypes float32, float64,
// float16, int32, int64, uint8 and uint16.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

NdArray read_npy(const std::string& path);
// `source` names the data in error messages (usually the file path).
NdArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source);

// Encodes with header version 1 (version 2 when the header does not fit 65,535 bytes).
std::vector<uint8_t> encode_npy(const NdArray& array);
// Writes atomically: the file appears complete or not at all.
void write_npy(const std::string& path, const NdArray& array);

}  // namespace mda
