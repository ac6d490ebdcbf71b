#include "mda/net/model_file.h"

#include <fstream>

#include "mda/io/tensor_archive.h"
#include "mda/net/state_dict.h"
#include "mda/util/cpu_features.h"
#include "mda/util/error.h"
#include "mda/version.h"

namespace mda {
namespace {

constexpr const char* kKind = "mda-model";

MdaArchitecture architecture_of(const TensorArchive& archive, const std::string& path) {
  const Value* version = archive.meta.find("model_version");
  if (!version || !version->is_int()) fail(path, ": model file without a model_version");
  if (version->as_int() != kModelFileVersion) {
    fail(path, ": model file version ", version->as_int(),
         " is not supported (this mda reads version ", kModelFileVersion, ")");
  }
  const Value* architecture = archive.meta.find("architecture");
  if (!architecture) fail(path, ": model file without an architecture");
  return MdaArchitecture::from_value(*architecture, path);
}

void load_archive_into(const TensorArchive& archive, MdaNetImpl& net, const std::string& path) {
  const LoadReport report = load_named_tensors(net, archive.tensors, "", path);
  if (!report.missing.empty() || !report.unexpected.empty()) {
    fail(path, ": does not match the architecture (", report.missing.size(), " tensor(s) missing, ",
         report.unexpected.size(), " unexpected",
         report.missing.empty() ? "" : ", e.g. missing '" + report.missing[0] + "'", ")");
  }
}

}  // namespace

void save_model(const std::string& path, MdaNetImpl& net, const Value& extra) {
  TensorArchive archive;
  archive.kind = kKind;
  archive.meta = extra.is_dict() ? extra.clone() : Value::empty_dict();
  archive.meta.set("model_version", Value(kModelFileVersion));
  archive.meta.set("architecture", net.architecture().to_value());
  archive.meta.set("written_by", Value(std::string("mda ") + MDA_VERSION_STRING));
  archive.tensors = module_tensors(net);
  write_tensor_archive(path, archive);
}

MdaArchitecture read_model_architecture(const std::string& path) {
  return architecture_of(read_tensor_archive(path, kKind), path);
}

MdaNet load_model(const std::string& path) {
  const TensorArchive archive = read_tensor_archive(path, kKind);
  MdaNet net(architecture_of(archive, path));
  load_archive_into(archive, *net, path);
  return net;
}

MdaNet load_model_for_inference(const std::string& path, const torch::Device& device,
                                BackbonePrecision precision) {
  if (precision == BackbonePrecision::kInt8 && !device.is_cpu())
    fail("evaluation.precision int8 runs on the CPU only, not on ", device.str());
  if (precision == BackbonePrecision::kBfloat16 && device.is_cpu() && !cpu_has_bfloat16()) {
    fail(
        "evaluation.precision bf16: this CPU has no bfloat16 instructions (AVX512_BF16 or AMX), "
        "where oneDNN would emulate them more slowly than float");
  }
  MdaNet net = load_model(path);
  net->eval();
  net->backbone()->fold_batch_norm();
  net->to(device);
  if (device.is_cpu()) {
    // Convolution weights in channels-last layout: oneDNN then runs every convolution in NHWC
    // without reordering activations and weights on each call (1.7x the NCHW extraction of
    // MobileNetV1 at 1024 px, 7 scales; the same features within 1e-4, bench/README.md).
    torch::NoGradGuard no_grad;
    for (auto& parameter : net->parameters()) {
      if (parameter.dim() == 4)
        parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  if (precision == BackbonePrecision::kBfloat16) net->use_bfloat16_backbone();
  if (precision == BackbonePrecision::kInt8) {
    const std::string reason = net->backbone()->enable_int8_inference();
    if (!reason.empty())
      fail(path, ": evaluation.precision int8 is not available for its ",
           net->architecture().backbone, " backbone: ", reason);
  }
  return net;
}

bool is_model_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  file.read(magic, sizeof magic);
  return file.gcount() == 8 && std::string(magic, 8) == "MDATENSR";
}

void load_model_into(const std::string& path, MdaNetImpl& net) {
  const TensorArchive archive = read_tensor_archive(path, kKind);
  const MdaArchitecture architecture = architecture_of(archive, path);
  if (!(architecture == net.architecture())) {
    fail(path, ": holds a ", architecture.short_name(), ", the network is a ",
         net.architecture().short_name());
  }
  load_archive_into(archive, net, path);
}

}  // namespace mda
