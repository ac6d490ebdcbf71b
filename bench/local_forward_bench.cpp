// Times MdaNet::extract_local (multi-scale local features, top-n) on a random image, after a
// warm-up. Prints one JSON line; bench/local_forward.py compares it with PyTorch in Python.
//   mda_bench_local_forward MODEL WIDTH HEIGHT IMAGES THREADS FEATURES [DUMP_PREFIX [SCALES
//   [PRECISION [DEVICE [WARMUP]]]]]
// SCALES: comma-separated, HOW's seven (2.0 ... 0.25) by default; PRECISION float (default),
// bf16 or int8 (evaluation.precision); DEVICE cpu (default) or cuda. Each image's features come
// back to the CPU, so the timing includes the device's work. WARMUP (default 1): extractions
// before the timing starts (a process's first extractions are slower while its heap grows).
// With DUMP_PREFIX, the warm-up's features are written to DUMP_PREFIX{strengths,descriptors}.npy
// so that the Python side can check it computes the same thing.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "mda/io/npy.h"
#include "mda/net/model_file.h"
#include "mda/util/allocator_tuning.h"

int main(int argc, char** argv) {
  if (argc < 7 || argc > 12) {
    std::fprintf(stderr,
                 "usage: %s MODEL WIDTH HEIGHT IMAGES THREADS FEATURES [DUMP_PREFIX [SCALES "
                 "[PRECISION [DEVICE [WARMUP]]]]]\n",
                 argv[0]);
    return 2;
  }
  // As the mda programs do (GLIBC_TUNABLES set in the environment leaves malloc as it is: the
  // "before" of bench/README.md).
  mda::keep_freed_memory_for_reuse();
  const int64_t width = std::stoll(argv[2]), height = std::stoll(argv[3]);
  const int images = std::stoi(argv[4]);
  at::set_num_threads(std::stoi(argv[5]));
  const int64_t features = std::stoll(argv[6]);
  const std::string precision = argc >= 10 ? argv[9] : "float";
  const std::string device_name = argc >= 11 ? argv[10] : "cpu";
  const int warmup = argc == 12 ? std::stoi(argv[11]) : 1;
  if (device_name != "cpu" && device_name != "cuda") {
    std::fprintf(stderr, "DEVICE must be cpu or cuda, found '%s'\n", device_name.c_str());
    return 2;
  }
  const torch::Device device = device_name == "cuda" ? torch::kCUDA : torch::kCPU;
  mda::MdaNet net = mda::load_model_for_inference(
      argv[1], device, mda::parse_backbone_precision(precision, "PRECISION"));
  std::vector<double> scales = {2.0, 1.414, 1.0, 0.707, 0.5, 0.353, 0.25};
  if (argc >= 9) {
    scales.clear();
    std::stringstream list(argv[8]);
    for (std::string item; std::getline(list, item, ',');) scales.push_back(std::stod(item));
  }
  torch::manual_seed(0);
  const torch::Tensor image = torch::rand({1, 3, height, width}).to(device);
  const mda::LocalFeatures first = net->extract_local(image, scales, features);  // warm-up
  for (int i = 1; i < warmup; ++i) net->extract_local(image, scales, features);
  if (argc >= 8 && argv[7][0] != 0) {
    mda::write_npy(std::string(argv[7]) + "strengths.npy",
                   mda::NdArray::from_vector(first.strengths, {first.count()}));
    mda::write_npy(std::string(argv[7]) + "descriptors.npy",
                   mda::NdArray::from_vector(first.descriptors, {first.count(), first.dim}));
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t kept = 0;
  for (int i = 0; i < images; ++i) kept += net->extract_local(image, scales, features).count();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"images_per_second\": %.6f, \"seconds\": %.3f, \"features\": %lld}\n",
              images / seconds, seconds, static_cast<long long>(kept / images));
  return 0;
}
