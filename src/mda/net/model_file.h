// Model files: one versioned file with the architecture and every weight of an MDA network
// (a TensorArchive of kind "mda-model"), loadable for training and for extraction.
#pragma once

#include <string>

#include "mda/io/value.h"
#include "mda/net/mda_net.h"

namespace mda {

constexpr int kModelFileVersion = 1;

// `extra` is stored beside the architecture (e.g. training epoch, configuration).
void save_model(const std::string& path, MdaNetImpl& net, const Value& extra = Value::empty_dict());
MdaArchitecture read_model_architecture(const std::string& path);
// Builds the network the file describes and loads its weights; a tensor missing, unexpected or of
// another shape is an error naming the file.
MdaNet load_model(const std::string& path);
// The same, in eval mode on `device`, ready for extraction and for nothing else: BatchNorm folded
// into the convolutions and, on the CPU, convolution weights in channels-last layout (which oneDNN
// runs fastest). `precision` (evaluation.precision): bf16 needs CUDA or a CPU with bfloat16
// instructions, int8 the CPU and a MobileNetV1 backbone; otherwise an error says why.
MdaNet load_model_for_inference(const std::string& path, const torch::Device& device,
                                BackbonePrecision precision = BackbonePrecision::kFloat);
// Whether the file starts like an mda archive (as opposed to .pth/.safetensors/.tflite weights).
bool is_model_file(const std::string& path);
// Loads the file's weights into an existing network, which must have the same architecture.
void load_model_into(const std::string& path, MdaNetImpl& net);

}  // namespace mda
