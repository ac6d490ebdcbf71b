#include "mda/net/state_dict.h"

#include <cstring>
#include <map>

#include "mda/util/error.h"

namespace mda {

torch::Tensor to_tensor(const NdArray& array) {
  if (array.dtype == DType::kFloat16) {
    const std::vector<float> values = array.to_float();
    return torch::from_blob(const_cast<float*>(values.data()), array.shape, torch::kFloat32)
        .clone();
  }
  torch::ScalarType type = torch::kFloat32;
  switch (array.dtype) {
    case DType::kFloat32:
      type = torch::kFloat32;
      break;
    case DType::kFloat64:
      type = torch::kFloat64;
      break;
    case DType::kInt32:
      type = torch::kInt32;
      break;
    case DType::kInt64:
      type = torch::kInt64;
      break;
    case DType::kUInt8:
      type = torch::kUInt8;
      break;
    case DType::kUInt16: {  // torch 1.13 has no uint16: widen
      const std::vector<int64_t> values = array.to_int64();
      return torch::from_blob(const_cast<int64_t*>(values.data()), array.shape, torch::kInt64)
          .clone();
    }
    case DType::kFloat16:
      break;
  }
  return torch::from_blob(const_cast<uint8_t*>(array.bytes.data()), array.shape, type).clone();
}

NdArray to_ndarray(const torch::Tensor& tensor) {
  torch::Tensor t = tensor.detach().cpu().contiguous();
  NdArray array;
  switch (t.scalar_type()) {
    case torch::kFloat32:
      array.dtype = DType::kFloat32;
      break;
    case torch::kFloat64:
      array.dtype = DType::kFloat64;
      break;
    case torch::kInt32:
      array.dtype = DType::kInt32;
      break;
    case torch::kInt64:
      array.dtype = DType::kInt64;
      break;
    case torch::kUInt8:
      array.dtype = DType::kUInt8;
      break;
    case torch::kFloat16:
    case torch::kBFloat16:
      t = t.to(torch::kFloat32);
      array.dtype = DType::kFloat32;
      break;
    default:
      fail("tensor of type ", t.scalar_type(), " cannot be stored");
  }
  array.shape = t.sizes().vec();
  array.bytes.resize(static_cast<size_t>(t.numel()) * dtype_size(array.dtype));
  if (!array.bytes.empty()) std::memcpy(array.bytes.data(), t.data_ptr(), array.bytes.size());
  return array;
}

NamedArrays module_tensors(torch::nn::Module& module) {
  NamedArrays out;
  for (const auto& item : module.named_parameters())
    out.emplace_back(item.key(), to_ndarray(item.value()));
  for (const auto& item : module.named_buffers())
    out.emplace_back(item.key(), to_ndarray(item.value()));
  return out;
}

LoadReport load_named_tensors(torch::nn::Module& module, const NamedArrays& tensors,
                              const std::string& prefix, const std::string& source) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters()) targets[item.key()] = item.value();
  for (const auto& item : module.named_buffers()) targets[item.key()] = item.value();
  LoadReport report;
  std::map<std::string, bool> filled;
  torch::NoGradGuard no_grad;
  for (const auto& [name, array] : tensors) {
    const auto it = targets.find(prefix + name);
    if (it == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    torch::Tensor& target = it->second;
    if (target.sizes().vec() != array.shape) {
      fail(source, ": tensor '", name, "' has shape ", array.shape_string(), ", the model expects ",
           NdArray{DType::kFloat32, target.sizes().vec(), {}}.shape_string());
    }
    target.copy_(to_tensor(array).to(target.dtype()));
    report.loaded.push_back(it->first);
    filled[it->first] = true;
  }
  for (const auto& [name, tensor] : targets) {
    if (name.rfind(prefix, 0) == 0 && !filled.count(name)) report.missing.push_back(name);
  }
  return report;
}

}  // namespace mda
