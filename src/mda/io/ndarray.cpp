#include "mda/io/ndarray.h"

#include <cmath>
#include <cstring>

#include "mda/util/error.h"

namespace mda {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat64:
      return 8;
    case DType::kFloat16:
      return 2;
    case DType::kInt32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kUInt8:
      return 1;
    case DType::kUInt16:
      return 2;
  }
  return 0;
}

std::string dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kFloat16:
      return "float16";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
    case DType::kUInt8:
      return "uint8";
    case DType::kUInt16:
      return "uint16";
  }
  return "?";
}

std::string dtype_code(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "f4";
    case DType::kFloat64:
      return "f8";
    case DType::kFloat16:
      return "f2";
    case DType::kInt32:
      return "i4";
    case DType::kInt64:
      return "i8";
    case DType::kUInt8:
      return "u1";
    case DType::kUInt16:
      return "u2";
  }
  return "?";
}

bool dtype_from_code(const std::string& code, DType& dtype) {
  for (DType candidate : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32,
                          DType::kInt64, DType::kUInt8, DType::kUInt16}) {
    if (dtype_code(candidate) == code) {
      dtype = candidate;
      return true;
    }
  }
  return false;
}

float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: value = mantissa * 2^-24
      const float value = std::ldexp(static_cast<float>(mantissa), -24);
      std::memcpy(&bits, &value, 4);
      bits |= sign;
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exponent = (bits >> 23) & 0xffu;
  uint32_t mantissa = bits & 0x7fffffu;
  if (exponent == 0xff) {  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
  }
  const int unbiased = static_cast<int>(exponent) - 127;
  if (unbiased > 15) return static_cast<uint16_t>(sign | 0x7c00u);
  if (unbiased >= -14) {  // normal half
    uint32_t half_bits = (static_cast<uint32_t>(unbiased + 15) << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half_bits & 1u))) ++half_bits;  // may carry to inf
    return static_cast<uint16_t>(sign | half_bits);
  }
  if (unbiased < -25) return sign;
  // subnormal half: value / 2^-24, rounded to nearest even
  mantissa |= 0x800000u;
  const int shift = -unbiased - 14 + 13;  // 14..24
  uint32_t half_bits = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (half_bits & 1u))) ++half_bits;
  return static_cast<uint16_t>(sign | half_bits);
}

bool checked_byte_count(const std::vector<int64_t>& shape, DType dtype, uint64_t& bytes) {
  uint64_t count = dtype_size(dtype);
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    const uint64_t d = static_cast<uint64_t>(dim);
    if (d != 0 && count > UINT64_MAX / d) return false;
    count *= d;
  }
  bytes = count;
  return true;
}

int64_t NdArray::size() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

std::string NdArray::shape_string() const { return mda::shape_string(shape); }

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

template <typename T>
NdArray NdArray::from_vector(const std::vector<T>& values, std::vector<int64_t> shape) {
  NdArray array;
  array.dtype = dtype_of<T>();
  array.shape = std::move(shape);
  if (array.size() != static_cast<int64_t>(values.size())) {
    fail("array of ", values.size(), " values does not fit shape ", array.shape_string());
  }
  array.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(array.bytes.data(), values.data(), array.bytes.size());
  return array;
}

template <typename T>
const T* NdArray::data() const {
  if (dtype != dtype_of<T>()) {
    fail("array holds ", dtype_name(dtype), ", not ", dtype_name(dtype_of<T>()));
  }
  return reinterpret_cast<const T*>(bytes.data());
}

template <typename T>
T* NdArray::mutable_data() {
  if (dtype != dtype_of<T>()) {
    fail("array holds ", dtype_name(dtype), ", not ", dtype_name(dtype_of<T>()));
  }
  return reinterpret_cast<T*>(bytes.data());
}

#define MDA_INSTANTIATE(T)                                                               \
  template NdArray NdArray::from_vector<T>(const std::vector<T>&, std::vector<int64_t>); \
  template const T* NdArray::data<T>() const;                                            \
  template T* NdArray::mutable_data<T>();
MDA_INSTANTIATE(float)
MDA_INSTANTIATE(double)
MDA_INSTANTIATE(int32_t)
MDA_INSTANTIATE(int64_t)
MDA_INSTANTIATE(uint8_t)
MDA_INSTANTIATE(uint16_t)
#undef MDA_INSTANTIATE

namespace {
template <typename Out, typename Convert>
std::vector<Out> convert_all(const NdArray& array, Convert convert) {
  const int64_t n = array.size();
  std::vector<Out> out(static_cast<size_t>(n));
  const uint8_t* raw = array.bytes.data();
  for (int64_t i = 0; i < n; ++i) out[i] = convert(raw + i * dtype_size(array.dtype));
  return out;
}

double element_as_double(DType dtype, const uint8_t* p) {
  switch (dtype) {
    case DType::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case DType::kFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return half_to_float(v);
    }
    case DType::kInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kInt64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case DType::kUInt8:
      return *p;
    case DType::kUInt16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
  }
  return 0;
}
}  // namespace

std::vector<double> NdArray::to_double() const {
  return convert_all<double>(*this, [&](const uint8_t* p) { return element_as_double(dtype, p); });
}

std::vector<float> NdArray::to_float() const {
  return convert_all<float>(
      *this, [&](const uint8_t* p) { return static_cast<float>(element_as_double(dtype, p)); });
}

std::vector<int64_t> NdArray::to_int64() const {
  return convert_all<int64_t>(*this, [&](const uint8_t* p) -> int64_t {
    if (dtype == DType::kInt64) {
      int64_t v;
      std::memcpy(&v, p, 8);
      return v;
    }
    const double v = element_as_double(dtype, p);
    if (v != std::floor(v)) fail("array element ", v, " is not an integer");
    return static_cast<int64_t>(v);
  });
}

}  // namespace mda
