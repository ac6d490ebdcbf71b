// Image decoding speed: mda's decoder (libjpeg-turbo for JPEG, libpng for PNG where the build has
// them) against stb_image, which mda used before, on the same bytes held in memory, one thread.
//   mda_bench_decode [SECONDS=3] FILE...
// Prints megapixels per second of each and their ratio; both decode every file to 8-bit RGB.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cpu_model.h"
#include "mda/image/codec.h"
#include "mda/util/fs.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#include "stb_image.h"
#pragma GCC diagnostic pop

namespace {

// Megapixels per second of `decode` over every file, repeated until `seconds` have passed.
double megapixels_per_second(const std::vector<std::vector<uint8_t>>& files,
                             const std::function<int64_t(const std::vector<uint8_t>&)>& decode,
                             double seconds) {
  const auto start = std::chrono::steady_clock::now();
  double pixels = 0, elapsed = 0;
  do {
    for (const auto& bytes : files) pixels += static_cast<double>(decode(bytes));
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  return pixels / elapsed / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mda_bench_decode SECONDS FILE...\n");
    return 2;
  }
  const double seconds = std::stod(argv[1]);
  std::vector<std::vector<uint8_t>> files;
  for (int i = 2; i < argc; ++i) files.push_back(mda::read_file_bytes(argv[i]));
  std::printf("cpu: %s\n", cpu_model().c_str());
  std::printf("files: %zu; mda decoders: %s\n", files.size(), mda::image_decoders().c_str());

  const double mda_rate = megapixels_per_second(
      files,
      [](const std::vector<uint8_t>& bytes) {
        const mda::Image image = mda::decode_image(bytes, "bench");
        return int64_t{image.width} * image.height;
      },
      seconds);
  const double stb_rate = megapixels_per_second(
      files,
      [](const std::vector<uint8_t>& bytes) {
        int width = 0, height = 0, channels = 0;
        stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                              &height, &channels, 3);
        if (!data) return int64_t{0};
        stbi_image_free(data);
        return int64_t{width} * height;
      },
      seconds);
  std::printf("mda  %8.1f Mpixel/s\nstb  %8.1f Mpixel/s\nratio mda/stb %.2fx\n", mda_rate, stb_rate,
              mda_rate / stb_rate);
  return 0;
}
