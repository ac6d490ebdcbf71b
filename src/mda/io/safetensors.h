// safetensors files: an 8-byte little-endian header length, a JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then raw data.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

// Reads F32, F64, F16, I32, I64, U8 and U16 tensors; BF16 is widened to float32. Other dtypes,
// overlapping or out-of-range offsets and truncated files are errors naming the file.
std::vector<std::pair<std::string, NdArray>> read_safetensors(const std::string& path);
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, NdArray>>& tensors);

}  // namespace mda
