// A reader for the subset of Python pickles that ground-truth files use: protocols 2 to 5; dicts,
// lists, tuples (read as lists), str, int, float, None, bool; numpy integer and float arrays and
// scalars. Anything else (arbitrary classes, out-of-band buffers) is an error naming the object,
// never executed: the reader has no way to run code from the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mda/io/value.h"

namespace mda {

// Loads the storage that a torch.save pickle refers to by persistent id ('storage', type, key,
// location, numel): returns its `numel` elements as a 1-D array. The type is the storage class
// name, e.g. "torch.FloatStorage".
using StorageLoader =
    std::function<NdArray(const std::string& storage_type, const std::string& key, int64_t numel)>;

// `source` names the data in error messages (usually the file path). With a storage loader, torch
// tensors (torch._utils._rebuild_tensor_v2 over such storages) become arrays too.
Value parse_pickle(const std::vector<uint8_t>& bytes, const std::string& source,
                   const StorageLoader& storage_loader = nullptr);
Value read_pickle(const std::string& path);

}  // namespace mda
