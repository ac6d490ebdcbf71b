// Replays the kept fuzzing inputs through the readers in an ordinary build, so that CI checks in
// seconds that none of them crashes or hangs any more (the fuzz build replays them under ASan).
//   mda_fuzz_replay FUZZ_FOLDER
// Reads FUZZ_FOLDER/corpus/<reader>/* with that reader, and FUZZ_FOLDER/regressions/* with the
// reader their extension names (.jpg .png .bmp: image, .pkl: pickle, .tflite: tflite, .npy: npy,
// .json: json, .yml: yaml, .mdai: index, .safetensors, .pt: torch_checkpoint, .mdam:
// tensor_archive).
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "parse_input.h"

namespace fs = std::filesystem;

namespace {

int replay(const std::string& reader, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  try {
    mda_fuzz::parse(reader, bytes.data(), bytes.size());
  } catch (const std::invalid_argument& error) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), error.what());
    return 1;
  } catch (const std::exception&) {  // rejected: fine
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mda_fuzz_replay FUZZ_FOLDER\n");
    return 2;
  }
  const fs::path root = argv[1];
  const std::map<std::string, std::string> by_extension = {{".jpg", "image"},
                                                           {".png", "image"},
                                                           {".bmp", "image"},
                                                           {".pkl", "pickle"},
                                                           {".tflite", "tflite"},
                                                           {".npy", "npy"},
                                                           {".json", "json"},
                                                           {".yml", "yaml"},
                                                           {".mdai", "index"},
                                                           {".pt", "torch_checkpoint"},
                                                           {".safetensors", "safetensors"},
                                                           {".mdam", "tensor_archive"}};
  int files = 0, failures = 0;
  for (const std::string& reader : mda_fuzz::readers()) {
    const fs::path folder = root / "corpus" / reader;
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder)) {
      failures += replay(reader, entry.path());
      ++files;
    }
  }
  for (const auto& entry : fs::directory_iterator(root / "regressions")) {
    const auto found = by_extension.find(entry.path().extension().string());
    if (found == by_extension.end()) {
      std::fprintf(stderr, "%s: no reader for this extension\n", entry.path().c_str());
      ++failures;
      continue;
    }
    failures += replay(found->second, entry.path());
    ++files;
  }
  std::remove(("/dev/shm/mda_fuzz_" + std::to_string(::getpid())).c_str());  // parse_input's
  std::printf("replayed %d kept inputs through the readers: %d failures\n", files, failures);
  return failures == 0 && files > 0 ? 0 : 1;
}
