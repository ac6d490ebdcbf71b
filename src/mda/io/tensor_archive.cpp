#include "mda/io/tensor_archive.h"

#include <cstring>

#include "mda/io/json.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {
namespace {

constexpr char kMagic[8] = {'M', 'D', 'A', 'T', 'E', 'N', 'S', 'R'};

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

const NdArray* TensorArchive::find(const std::string& name) const {
  for (const auto& [n, a] : tensors) {
    if (n == name) return &a;
  }
  return nullptr;
}

void write_tensor_archive(const std::string& path, const TensorArchive& archive) {
  Value::List entries;
  uint64_t offset = 0;
  for (const auto& [name, array] : archive.tensors) {
    if (array.bytes.size() != static_cast<size_t>(array.size()) * dtype_size(array.dtype)) {
      fail("tensor '", name, "' has ", array.bytes.size(), " bytes for shape ",
           array.shape_string());
    }
    Value entry = Value::empty_dict();
    entry.set("name", Value(name));
    entry.set("dtype", Value(dtype_name(array.dtype)));
    Value::List shape;
    for (int64_t d : array.shape) shape.emplace_back(d);
    entry.set("shape", Value(std::move(shape)));
    entry.set("offset", Value(static_cast<int64_t>(offset)));
    entry.set("bytes", Value(static_cast<int64_t>(array.bytes.size())));
    entries.push_back(std::move(entry));
    offset += (array.bytes.size() + 63) / 64 * 64;
  }
  Value header = Value::empty_dict();
  header.set("kind", Value(archive.kind));
  header.set("meta", archive.meta);
  header.set("tensors", Value(std::move(entries)));
  const std::string json = to_json(header, -1);

  std::vector<uint8_t> out(kMagic, kMagic + 8);
  put_le(out, kTensorArchiveVersion, 4);
  put_le(out, json.size(), 8);
  out.insert(out.end(), json.begin(), json.end());
  const size_t data_start = out.size();
  out.resize(data_start + offset, 0);
  size_t at = data_start;
  for (const auto& [name, array] : archive.tensors) {
    if (!array.bytes.empty()) std::memcpy(out.data() + at, array.bytes.data(), array.bytes.size());
    at += (array.bytes.size() + 63) / 64 * 64;
  }
  put_le(out, fnv1a64(out.data(), out.size()), 8);
  write_file_atomic(path, [&](std::ostream& stream) {
    stream.write(reinterpret_cast<const char*>(out.data()),
                 static_cast<std::streamsize>(out.size()));
  });
}

TensorArchive read_tensor_archive(const std::string& path, const std::string& expected_kind) {
  const std::vector<uint8_t> b = read_file_bytes(path);
  if (b.size() < 28 || std::memcmp(b.data(), kMagic, 8) != 0) {
    fail(path, ": not an mda file (bad magic string)");
  }
  const uint32_t version = static_cast<uint32_t>(get_le(b.data() + 8, 4));
  if (version != kTensorArchiveVersion) {
    fail(path, ": file format version ", version, " is not supported (this mda reads version ",
         kTensorArchiveVersion, ")");
  }
  const uint64_t stored = get_le(b.data() + b.size() - 8, 8);
  if (fnv1a64(b.data(), b.size() - 8) != stored)
    fail(path, ": checksum mismatch (truncated or corrupt file)");
  const uint64_t header_length = get_le(b.data() + 12, 8);
  if (header_length > b.size() - 28) fail(path, ": truncated header");
  const Value header =
      parse_json(std::string(reinterpret_cast<const char*>(b.data()) + 20, header_length), path);
  TensorArchive archive;
  const auto field = [](const Value& dict, const char* key) -> const Value& {
    const Value* v = dict.is_dict() ? dict.find(key) : nullptr;
    if (!v) fail("missing '", key, "'");
    return *v;
  };
  try {
    archive.kind = field(header, "kind").as_string();
    if (!expected_kind.empty() && archive.kind != expected_kind) {
      fail(path, ": holds a '", archive.kind, "', expected a '", expected_kind, "'");
    }
    archive.meta = field(header, "meta");
    const size_t data_start = 20 + header_length;
    const size_t data_size = b.size() - 8 - data_start;
    for (const Value& entry : field(header, "tensors").as_list()) {
      NdArray array;
      bool known = false;
      for (DType d : {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kInt32,
                      DType::kInt64, DType::kUInt8, DType::kUInt16}) {
        if (dtype_name(d) == field(entry, "dtype").as_string()) {
          array.dtype = d;
          known = true;
        }
      }
      if (!known) fail("unknown dtype '", field(entry, "dtype").as_string(), "'");
      array.shape = field(entry, "shape").to_int_vector();
      const uint64_t offset = static_cast<uint64_t>(field(entry, "offset").as_int());
      const uint64_t bytes = static_cast<uint64_t>(field(entry, "bytes").as_int());
      uint64_t shape_bytes = 0;
      if (!checked_byte_count(array.shape, array.dtype, shape_bytes) || bytes != shape_bytes ||
          bytes > data_size || offset > data_size - bytes) {
        fail("tensor '", field(entry, "name").as_string(), "' does not fit the file");
      }
      array.bytes.assign(b.begin() + static_cast<std::ptrdiff_t>(data_start + offset),
                         b.begin() + static_cast<std::ptrdiff_t>(data_start + offset + bytes));
      archive.tensors.emplace_back(field(entry, "name").as_string(), std::move(array));
    }
  } catch (const Error& error) {
    const std::string message = error.what();
    if (message.rfind(path, 0) == 0) throw;
    fail(path, ": malformed header: ", message);
  }
  return archive;
}

}  // namespace mda
