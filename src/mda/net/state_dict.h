// Moving named weights between libtorch modules and plain arrays (files), with checks.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

using NamedArrays = std::vector<std::pair<std::string, NdArray>>;

torch::Tensor to_tensor(const NdArray& array);  // float16 becomes float32
NdArray to_ndarray(const torch::Tensor& tensor);

// Every parameter and buffer of the module, by its dotted name.
NamedArrays module_tensors(torch::nn::Module& module);

struct LoadReport {
  std::vector<std::string> loaded;      // module names that received a value
  std::vector<std::string> missing;     // module names the source did not have
  std::vector<std::string> unexpected;  // source names with no place in the module
};

// Copies source tensor "X" into the module tensor named prefix + "X". A shape mismatch is an error
// naming the tensor, both shapes and `source`; missing and unexpected names are reported.
LoadReport load_named_tensors(torch::nn::Module& module, const NamedArrays& tensors,
                              const std::string& prefix, const std::string& source);

}  // namespace mda
