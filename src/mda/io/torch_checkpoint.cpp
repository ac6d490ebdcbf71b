#include "mda/io/torch_checkpoint.h"

#include <algorithm>
#include <cstring>

#include "mda/io/pickle.h"
#include "mda/io/zip_reader.h"
#include "mda/util/error.h"
#include "mda/util/strings.h"

namespace mda {

std::vector<std::pair<std::string, NdArray>> read_torch_state_dict(const std::string& path) {
  const ZipReader zip(path);
  std::string pickle_name;
  for (const std::string& name : zip.names()) {
    if (ends_with(name, "/data.pkl") && std::count(name.begin(), name.end(), '/') == 1)
      pickle_name = name;
  }
  if (pickle_name.empty()) fail(path, ": not a torch.save archive (no <name>/data.pkl)");
  const std::string prefix = pickle_name.substr(0, pickle_name.size() - 8);  // "<name>/"

  const StorageLoader load = [&](const std::string& type, const std::string& key, int64_t numel) {
    struct Kind {
      const char* name;
      DType dtype;
      size_t bytes;
    };
    static const Kind kinds[] = {
        {"torch.FloatStorage", DType::kFloat32, 4},   {"torch.DoubleStorage", DType::kFloat64, 8},
        {"torch.HalfStorage", DType::kFloat16, 2},    {"torch.LongStorage", DType::kInt64, 8},
        {"torch.IntStorage", DType::kInt32, 4},       {"torch.ByteStorage", DType::kUInt8, 1},
        {"torch.BFloat16Storage", DType::kFloat32, 2}};
    const std::vector<uint8_t> raw = zip.read(prefix + "data/" + key);
    for (const Kind& kind : kinds) {
      if (type != kind.name) continue;
      if (raw.size() < static_cast<size_t>(numel) * kind.bytes) {
        fail(path, ": storage ", key, " holds ", raw.size(), " bytes for ", numel, " elements");
      }
      NdArray array;
      array.dtype = kind.dtype;
      array.shape = {numel};
      if (type == "torch.BFloat16Storage") {
        array.bytes.resize(static_cast<size_t>(numel) * 4);
        for (int64_t i = 0; i < numel; ++i) {
          const uint32_t bits =
              (static_cast<uint32_t>(raw[2 * i]) | (static_cast<uint32_t>(raw[2 * i + 1]) << 8))
              << 16;
          std::memcpy(array.bytes.data() + 4 * i, &bits, 4);
        }
      } else {
        array.bytes.assign(
            raw.begin(),
            raw.begin() + static_cast<std::ptrdiff_t>(numel * static_cast<int64_t>(kind.bytes)));
      }
      return array;
    }
    fail(path, ": storage type '", type, "' is not supported");
  };

  Value root = parse_pickle(zip.read(pickle_name), path, load);
  for (const char* nested : {"state_dict", "model"}) {
    if (root.is_dict() && root.find(nested) && root.find(nested)->is_dict())
      root = *root.find(nested);
  }
  if (!root.is_dict())
    fail(path, ": expected a state dict (a dict of tensors), found a ", root.kind_name());
  std::vector<std::pair<std::string, NdArray>> tensors;
  for (const auto& [name, value] : root.as_dict()) {
    if (value.is_array()) tensors.emplace_back(name, value.as_array());
  }
  if (tensors.empty()) fail(path, ": the state dict holds no tensors");
  return tensors;
}

}  // namespace mda
