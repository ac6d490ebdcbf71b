#include "mda/io/npy.h"
#include "mda/io/tflite.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "mda/io/tensor_archive.h"
#include "mda/util/checksum.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

const std::vector<DType> kDTypes = {DType::kFloat32, DType::kFloat16, DType::kFloat64,
                                    DType::kInt32,   DType::kInt64,   DType::kUInt8,
                                    DType::kUInt16};

// The values the numpy script writes: (3 i + 1), times 0.25 for floats.
std::vector<double> expected_values(DType dtype) {
  std::vector<double> v;
  const bool floating =
      dtype == DType::kFloat32 || dtype == DType::kFloat16 || dtype == DType::kFloat64;
  for (int i = 0; i < 12; ++i) v.push_back((3 * i + 1) * (floating ? 0.25 : 1.0));
  return v;
}

NdArray make_array(DType dtype) {
  const std::vector<double> values = expected_values(dtype);
  NdArray a;
  a.dtype = dtype;
  a.shape = {3, 4};
  a.bytes.resize(12 * dtype_size(dtype));
  for (size_t i = 0; i < 12; ++i) {
    uint8_t* p = a.bytes.data() + i * dtype_size(dtype);
    switch (dtype) {
      case DType::kFloat32: {
        float x = static_cast<float>(values[i]);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::kFloat64: {
        double x = values[i];
        std::memcpy(p, &x, 8);
        break;
      }
      case DType::kFloat16: {
        uint16_t x = float_to_half(static_cast<float>(values[i]));
        std::memcpy(p, &x, 2);
        break;
      }
      case DType::kInt32: {
        int32_t x = static_cast<int32_t>(values[i]);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::kInt64: {
        int64_t x = static_cast<int64_t>(values[i]);
        std::memcpy(p, &x, 8);
        break;
      }
      case DType::kUInt8: {
        *p = static_cast<uint8_t>(values[i]);
        break;
      }
      case DType::kUInt16: {
        uint16_t x = static_cast<uint16_t>(values[i]);
        std::memcpy(p, &x, 2);
        break;
      }
    }
  }
  return a;
}

TEST(Npy, AbsurdShapesAreErrorsNotCrashes) {
  const auto npy_with_shape = [](const std::string& shape) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    header.resize(118, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) +
                        char(header.size() >> 8) + header + std::string(16, '\0');
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  };
  // The product of these dimensions overflows 64 bits; it used to wrap to a small size.
  test::expect_error([&] { parse_npy(npy_with_shape("(4294967296, 4294967296)"), "big.npy"); },
                     {"big.npy", "2^64"});
  test::expect_error([&] { parse_npy(npy_with_shape("(99999999999999999999, 1)"), "digits.npy"); },
                     {"digits.npy", "18 digits"});
  test::expect_error([&] { parse_npy(npy_with_shape("(5, 1)"), "five.npy"); },
                     {"five.npy", "truncated", "20 bytes"});
  EXPECT_EQ(parse_npy(npy_with_shape("(2, 2)"), "fits.npy").size(), 4);
}

TEST(TensorArchive, AShapeWhoseByteCountOverflowsIsRefused) {
  test::TempDir dir;
  TensorArchive archive;
  archive.kind = "test";
  NdArray empty;
  empty.dtype = DType::kFloat32;
  empty.shape = {0};
  archive.tensors.emplace_back("t", empty);
  write_tensor_archive(dir.path("ok.mdaf"), archive);
  EXPECT_EQ(read_tensor_archive(dir.path("ok.mdaf"), "test").tensors.size(), 1u);
  // The same file claiming 2^62 x 4 float32 values: 2^66 bytes, which wraps to the 0 stored.
  const std::vector<uint8_t> bytes = read_file_bytes(dir.path("ok.mdaf"));
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[12 + static_cast<size_t>(i)];
  std::string json(bytes.begin() + 20, bytes.begin() + 20 + static_cast<std::ptrdiff_t>(length));
  const size_t at = json.find("[0]");
  ASSERT_NE(at, std::string::npos) << json;
  json.replace(at, 3, "[4611686018427387904, 4]");
  std::vector<uint8_t> crafted(bytes.begin(), bytes.begin() + 12);
  for (int i = 0; i < 8; ++i) crafted.push_back(static_cast<uint8_t>(json.size() >> (8 * i)));
  crafted.insert(crafted.end(), json.begin(), json.end());
  const uint64_t sum = fnv1a64(crafted.data(), crafted.size());
  for (int i = 0; i < 8; ++i) crafted.push_back(static_cast<uint8_t>(sum >> (8 * i)));
  write_file_atomic(dir.path("crafted.mdaf"), std::string(crafted.begin(), crafted.end()));
  test::expect_error([&] { read_tensor_archive(dir.path("crafted.mdaf"), "test"); },
                     {"crafted.mdaf", "does not fit the file"});
}

TEST(Tflite, AVectorLongerThanTheFileIsAnErrorNotAnAllocation) {
  // Found by fuzz/ (mda_fuzz_tflite): a vector length of ~2^31 became an 8 GB allocation.
  const std::string path =
      std::string(MDA_SOURCE_DIR) + "/fuzz/regressions/tflite_vector_length_past_end.tflite";
  test::expect_error([&] { parse_tflite(read_file_bytes(path), "input"); },
                     {"input", "runs past the end"});
}

TEST(Npy, RoundTripsEveryDtype) {
  test::TempDir dir;
  for (DType dtype : kDTypes) {
    const NdArray a = make_array(dtype);
    const std::string path = dir.path(dtype_name(dtype) + ".npy");
    write_npy(path, a);
    const NdArray b = read_npy(path);
    EXPECT_EQ(b.dtype, dtype);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.bytes, a.bytes);
    // Data starts at a multiple of 64 bytes, as numpy writes it.
    const std::vector<uint8_t> raw = read_file_bytes(path);
    EXPECT_EQ((raw.size() - a.bytes.size()) % 64, 0u);
  }
}

TEST(Npy, ReadsWhatNumpyWritesAllVersions) {
  MDA_SKIP_WITHOUT_NUMPY();
  test::TempDir dir;
  ASSERT_EQ(test::run_python(std::string(MDA_SOURCE_DIR) + "/tests/npy_numpy_check.py",
                             "write " + dir.path()),
            0);
  for (DType dtype : kDTypes) {
    for (int version = 1; version <= 3; ++version) {
      const std::string path =
          dir.path(dtype_name(dtype) + "_v" + std::to_string(version) + ".npy");
      const NdArray a = read_npy(path);
      EXPECT_EQ(a.dtype, dtype) << path;
      EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 4})) << path;
      EXPECT_EQ(a.to_double(), expected_values(dtype)) << path;
    }
  }
  const NdArray empty = read_npy(dir.path("empty.npy"));
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 128}));
  test::expect_error([&] { read_npy(dir.path("fortran.npy")); }, {"fortran.npy", "Fortran"});
  test::expect_error([&] { read_npy(dir.path("bigendian.npy")); }, {"bigendian.npy", ">f4"});
}

TEST(Npy, NumpyReadsWhatMdaWrites) {
  MDA_SKIP_WITHOUT_NUMPY();
  test::TempDir dir;
  for (DType dtype : kDTypes)
    write_npy(dir.path("mda_" + dtype_name(dtype) + ".npy"), make_array(dtype));
  EXPECT_EQ(test::run_python(std::string(MDA_SOURCE_DIR) + "/tests/npy_numpy_check.py",
                             "verify " + dir.path()),
            0);
}

TEST(Npy, TruncatedAndForeignFilesAreClearErrors) {
  test::TempDir dir;
  const std::vector<uint8_t> good = encode_npy(make_array(DType::kFloat32));
  std::vector<uint8_t> cut(good.begin(), good.end() - 5);
  test::expect_error([&] { parse_npy(cut, "cut.npy"); }, {"cut.npy", "truncated", "48 bytes"});
  std::vector<uint8_t> header_only(good.begin(), good.begin() + 20);
  test::expect_error([&] { parse_npy(header_only, "h.npy"); }, {"h.npy", "truncated"});
  const std::string text = "hello, not numpy";
  test::expect_error([&] { parse_npy(std::vector<uint8_t>(text.begin(), text.end()), "t.npy"); },
                     {"t.npy", "magic"});
  std::vector<uint8_t> extra = good;
  extra.push_back(0);
  test::expect_error([&] { parse_npy(extra, "x.npy"); }, {"x.npy", "trailing"});
  test::expect_error([&] { read_npy(dir.path("missing.npy")); }, {"missing.npy"});
}

TEST(Half, ConvertsExactlyAndRoundsToNearestEven) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f}) {
    EXPECT_EQ(half_to_float(float_to_half(v)), v) << v;
  }
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);                // overflow -> inf
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);  // halfway rounds to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3c02);  // halfway rounds to even (up)
}

}  // namespace
}  // namespace mda
