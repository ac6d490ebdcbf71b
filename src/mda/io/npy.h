// NumPy .npy files: header versions 1 to 3, little-endian, C order, dtypes float32, float64,
// float16, int32, int64, uint8 and uint16.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mda/io/ndarray.h"
#include "mda/util/mapped_file.h"

namespace mda {

NdArray read_npy(const std::string& path);

// A .npy header, checked against the size of the data that follows it.
struct NpyHeader {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  size_t data_start = 0;  // byte offset of the data in the file
  std::string shape_string() const;
};
NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source);

// A .npy file mapped into memory, its data read in place (no copy; pages load as they are read).
struct MappedNpy {
  NpyHeader header;
  std::shared_ptr<const MappedFile> file;
  const uint8_t* data() const { return file->data() + header.data_start; }
};
MappedNpy map_npy(const std::string& path);
// `source` names the data in error messages (usually the file path).
NdArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source);

// Encodes with header version 1 (version 2 when the header does not fit 65,535 bytes).
std::vector<uint8_t> encode_npy(const NdArray& array);
// Writes atomically: the file appears complete or not at all.
void write_npy(const std::string& path, const NdArray& array);

}  // namespace mda
