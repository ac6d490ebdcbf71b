// The readers of untrusted input, by name: what the fuzz targets and the corpus replay call.
#include "parse_input.h"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mda/asmk/inverted_file.h"
#include "mda/image/codec.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/io/pickle.h"
#include "mda/io/safetensors.h"
#include "mda/io/tensor_archive.h"
#include "mda/io/tflite.h"
#include "mda/io/torch_checkpoint.h"
#include "mda/io/yaml.h"

namespace mda_fuzz {
namespace {

// The readers that take a path get the input through a file in /dev/shm (one per process).
std::string as_file(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/mda_fuzz_" + std::to_string(::getpid());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace

const std::vector<std::string>& readers() {
  static const std::vector<std::string> names = {
      "npy",         "pickle",           "json",          "yaml", "tflite", "image", "index",
      "safetensors", "torch_checkpoint", "tensor_archive"};
  return names;
}

void parse(const std::string& parser, const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (parser == "npy") {
    mda::parse_npy(bytes, "input");
  } else if (parser == "pickle") {
    mda::parse_pickle(bytes, "input");
  } else if (parser == "json") {
    mda::parse_json(text, "input");
  } else if (parser == "yaml") {
    mda::parse_yaml(text, "input");
  } else if (parser == "tflite") {
    mda::parse_tflite(bytes, "input");
  } else if (parser == "image") {
    mda::decode_image(bytes, "input");
  } else if (parser == "index") {
    mda::InvertedFile::load(as_file(data, size));
  } else if (parser == "safetensors") {
    mda::read_safetensors(as_file(data, size));
  } else if (parser == "torch_checkpoint") {
    mda::read_torch_state_dict(as_file(data, size));
  } else if (parser == "tensor_archive") {
    mda::read_tensor_archive(as_file(data, size), "mda-model");
  } else {
    throw std::invalid_argument("unknown reader '" + parser + "'");
  }
}

}  // namespace mda_fuzz
