#include "mda/io/safetensors.h"

#include <algorithm>
#include <cstring>

#include "mda/io/json.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {
namespace {

struct Code {
  const char* name;
  DType dtype;
};
constexpr Code kCodes[] = {{"F32", DType::kFloat32}, {"F64", DType::kFloat64},
                           {"F16", DType::kFloat16}, {"I32", DType::kInt32},
                           {"I64", DType::kInt64},   {"U8", DType::kUInt8},
                           {"U16", DType::kUInt16}};

}  // namespace

std::vector<std::pair<std::string, NdArray>> read_safetensors(const std::string& path) {
  const std::vector<uint8_t> b = read_file_bytes(path);
  if (b.size() < 8) fail(path, ": truncated safetensors file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<size_t>(i)];
  if (n > b.size() - 8) fail(path, ": safetensors header of ", n, " bytes does not fit the file");
  const Value header =
      parse_json(std::string(reinterpret_cast<const char*>(b.data()) + 8, n), path);
  if (!header.is_dict()) fail(path, ": safetensors header is not a JSON object");
  const size_t data_start = 8 + n;
  const size_t data_size = b.size() - data_start;
  std::vector<std::pair<std::string, NdArray>> tensors;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.as_dict()) {
    if (name == "__metadata__") continue;
    try {
      const std::string code = entry.find("dtype") ? entry.find("dtype")->as_string() : "";
      NdArray array;
      array.shape =
          entry.find("shape") ? entry.find("shape")->to_int_vector() : std::vector<int64_t>{};
      const std::vector<int64_t> offsets = entry.find("data_offsets")
                                               ? entry.find("data_offsets")->to_int_vector()
                                               : std::vector<int64_t>{};
      if (offsets.size() != 2 || offsets[0] < 0 || offsets[1] < offsets[0] ||
          static_cast<uint64_t>(offsets[1]) > data_size) {
        fail("bad data_offsets");
      }
      const size_t begin = data_start + static_cast<size_t>(offsets[0]);
      const size_t bytes = static_cast<size_t>(offsets[1] - offsets[0]);
      ranges.emplace_back(offsets[0], offsets[1]);
      if (code == "BF16") {
        array.dtype = DType::kFloat32;
        uint64_t shape_bytes = 0;
        if (!checked_byte_count(array.shape, DType::kFloat16, shape_bytes) || bytes != shape_bytes)
          fail("size does not match the shape");
        array.bytes.resize(bytes * 2);
        for (size_t i = 0; i < bytes / 2; ++i) {
          const uint32_t bits = (static_cast<uint32_t>(b[begin + 2 * i]) |
                                 (static_cast<uint32_t>(b[begin + 2 * i + 1]) << 8))
                                << 16;
          std::memcpy(array.bytes.data() + 4 * i, &bits, 4);
        }
      } else {
        bool known = false;
        for (const Code& c : kCodes) {
          if (code == c.name) {
            array.dtype = c.dtype;
            known = true;
          }
        }
        if (!known) fail("unsupported dtype '", code, "'");
        uint64_t shape_bytes = 0;
        if (!checked_byte_count(array.shape, array.dtype, shape_bytes) || bytes != shape_bytes)
          fail("size does not match the shape");
        array.bytes.assign(b.begin() + static_cast<std::ptrdiff_t>(begin),
                           b.begin() + static_cast<std::ptrdiff_t>(begin + bytes));
      }
      tensors.emplace_back(name, std::move(array));
    } catch (const Error& error) {
      fail(path, ": tensor '", name, "': ", error.what());
    }
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) fail(path, ": overlapping tensor data");
  }
  return tensors;
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, NdArray>>& tensors) {
  Value header = Value::empty_dict();
  uint64_t offset = 0;
  for (const auto& [name, array] : tensors) {
    const char* code = nullptr;
    for (const Code& c : kCodes) {
      if (c.dtype == array.dtype) code = c.name;
    }
    Value entry = Value::empty_dict();
    entry.set("dtype", Value(code));
    Value::List shape;
    for (int64_t d : array.shape) shape.emplace_back(d);
    entry.set("shape", Value(std::move(shape)));
    entry.set("data_offsets",
              Value(Value::List{Value(static_cast<int64_t>(offset)),
                                Value(static_cast<int64_t>(offset + array.bytes.size()))}));
    header.set(name, std::move(entry));
    offset += array.bytes.size();
  }
  std::string json = to_json(header, -1);
  json.append((8 - json.size() % 8) % 8, ' ');
  write_file_atomic(path, [&](std::ostream& out) {
    uint8_t length[8];
    for (int i = 0; i < 8; ++i)
      length[i] = static_cast<uint8_t>(static_cast<uint64_t>(json.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(json.data(), static_cast<std::streamsize>(json.size()));
    for (const auto& [name, array] : tensors) {
      out.write(reinterpret_cast<const char*>(array.bytes.data()),
                static_cast<std::streamsize>(array.bytes.size()));
    }
  });
}

}  // namespace mda
