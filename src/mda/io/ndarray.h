// A dense, C-ordered, little-endian n-dimensional array of one of the numeric types that the
// project's files use. It is what .npy files and numpy objects inside pickles load into.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mda {

enum class DType { kFloat32, kFloat64, kFloat16, kInt32, kInt64, kUInt8, kUInt16 };

size_t dtype_size(DType dtype);
// The bytes an array of `shape` and `dtype` holds, or false when a dimension is negative or the
// product overflows 64 bits: what a reader checks a file's shape with before trusting it.
bool checked_byte_count(const std::vector<int64_t>& shape, DType dtype, uint64_t& bytes);
// "float32", "int64", ...
std::string dtype_name(DType dtype);
// numpy type string without byte order: "f4", "i8", "u1", ...
std::string dtype_code(DType dtype);
// Parses a numpy type code without byte order ("f4"); false when unsupported.
bool dtype_from_code(const std::string& code, DType& dtype);

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType dtype_of<uint16_t>() {
  return DType::kUInt16;
}

float half_to_float(uint16_t half);
uint16_t float_to_half(float value);  // round to nearest even, overflow to infinity

// "(3, 4)", "(5,)": a shape as numpy prints it.
std::string shape_string(const std::vector<int64_t>& shape);

struct NdArray {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // element count x dtype_size, little endian

  int64_t size() const;              // number of elements
  std::string shape_string() const;  // "(3, 4)"

  template <typename T>
  static NdArray from_vector(const std::vector<T>& values, std::vector<int64_t> shape);

  // Typed view; throws when T does not match dtype.
  template <typename T>
  const T* data() const;
  template <typename T>
  T* mutable_data();

  // Element-wise conversions, whatever the stored type.
  std::vector<double> to_double() const;
  std::vector<float> to_float() const;
  // Throws when a floating-point element is not an exact integer.
  std::vector<int64_t> to_int64() const;
};

}  // namespace mda
