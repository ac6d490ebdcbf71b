// Reads the tensors of a state dict written by torch.save (the zip format of PyTorch >= 1.6),
// without libtorch and without running any code from the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

// A dict of tensors, or a checkpoint dict holding one under "state_dict" or "model". Entries that
// are not tensors are left out. float32/64, float16, bfloat16 (widened to float32), int32/64,
// uint8.
std::vector<std::pair<std::string, NdArray>> read_torch_state_dict(const std::string& path);

}  // namespace mda
