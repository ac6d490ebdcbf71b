// One of mda's readers of untrusted input applied to bytes, chosen by name (fuzz/README.md). A
// reader may reject any input with an exception; a crash, a hang or a sanitizer report is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mda_fuzz {

// npy, pickle, json, yaml, tflite, image, index, safetensors, torch_checkpoint, tensor_archive.
const std::vector<std::string>& readers();
// Throws std::invalid_argument for an unknown reader, and whatever the reader throws.
void parse(const std::string& reader, const uint8_t* data, size_t size);

}  // namespace mda_fuzz
