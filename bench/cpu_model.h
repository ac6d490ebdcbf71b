// The CPU a benchmark ran on, for its first line: model name and the SIMD extensions that decide
// which kernels run.
#pragma once

#include <fstream>
#include <string>

inline std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(info, line)) {
    if (model.empty() && line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = line;
  }
  std::string simd;
  for (const char* f : {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"})
    if (flags.find(std::string(" ") + f) != std::string::npos) simd += std::string(" ") + f;
  return model + " (" + (simd.empty() ? " no avx2" : simd) + " )";
}
