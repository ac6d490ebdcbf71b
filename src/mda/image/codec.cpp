#include "mda/image/codec.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

#ifdef MDA_HAVE_STB
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#include "stb_image.h"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#include "stb_image_write.h"
#pragma GCC diagnostic pop
#endif

namespace mda {
namespace {

enum class Format { kJpeg, kPng, kBmp, kUnknown };

Format sniff(const std::vector<uint8_t>& b) {
  if (b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return Format::kJpeg;
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return Format::kPng;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return Format::kBmp;
  return Format::kUnknown;
}

uint32_t le32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
         (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

// stb fills missing data with zeros instead of failing, so a cut-off file would decode into a
// silently wrong picture. These checks find the end of each format first.
void check_complete(const std::vector<uint8_t>& b, Format format, const std::string& source) {
  switch (format) {
    case Format::kJpeg: {
      // The end-of-image marker must follow the last start-of-scan marker. Entropy-coded data
      // stuffs every 0xff byte, so neither marker can appear inside it.
      size_t last_sos = 0, last_eoi = 0;
      for (size_t i = 0; i + 1 < b.size(); ++i) {
        if (b[i] != 0xff) continue;
        if (b[i + 1] == 0xda) last_sos = i;
        if (b[i + 1] == 0xd9) last_eoi = i;
      }
      if (last_sos == 0 || last_eoi < last_sos) {
        fail(source, ": truncated or corrupt JPEG (no end-of-image marker after the image data)");
      }
      break;
    }
    case Format::kPng: {
      const char* iend = "IEND";
      const auto it = std::search(b.begin() + 8, b.end(), iend, iend + 4);
      if (it == b.end()) fail(source, ": truncated or corrupt PNG (no IEND chunk)");
      break;
    }
    case Format::kBmp: {
      if (b.size() < 34) fail(source, ": truncated BMP header");
      const uint32_t offset = le32(b, 10);
      const int32_t width = static_cast<int32_t>(le32(b, 18));
      const int32_t height = static_cast<int32_t>(le32(b, 22));
      const uint32_t bits = static_cast<uint32_t>(b[28]) | (static_cast<uint32_t>(b[29]) << 8);
      const uint32_t compression = le32(b, 30);
      if (width <= 0 || height == 0) fail(source, ": BMP with bad size ", width, "x", height);
      if (compression == 0 || compression == 3) {  // uncompressed: the size is known exactly
        const uint64_t stride = ((static_cast<uint64_t>(width) * bits + 31) / 32) * 4;
        const uint64_t needed =
            offset +
            stride * static_cast<uint64_t>(height < 0 ? -static_cast<int64_t>(height) : height);
        if (b.size() < needed) {
          fail(source, ": truncated BMP (", b.size(), " bytes, the header announces ", needed, ")");
        }
      }
      break;
    }
    case Format::kUnknown:
      break;
  }
}

}  // namespace

bool image_codecs_available() {
#ifdef MDA_HAVE_STB
  return true;
#else
  return false;
#endif
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& source) {
  const Format format = sniff(bytes);
  if (bytes.empty()) fail(source, ": empty image file");
  if (format == Format::kUnknown) {
    fail(source, ": unsupported image format (supported: JPEG, PNG, BMP)");
  }
  check_complete(bytes, format, source);
#ifdef MDA_HAVE_STB
  int width = 0, height = 0, channels = 0;
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                        &height, &channels, 3);
  if (!data) fail(source, ": cannot decode image: ", stbi_failure_reason());
  Image image(width, height);
  std::memcpy(image.pixels.data(), data, image.pixels.size());
  stbi_image_free(data);
  return image;
#else
  fail(source, ": this mda was built without image decoding (stb_image.h was not found)");
#endif
}

Image read_image(const std::string& path) {
  // A folder, a FIFO or a device in an image list is an error, not a hang or a 2 GB read.
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error) fail("cannot read image '", path, "': ", error.message());
  if (!std::filesystem::is_regular_file(status))
    fail("cannot read image '", path, "': not a regular file (a folder, a device or a FIFO)");
  const uintmax_t size = std::filesystem::file_size(path, error);
  constexpr uintmax_t kLargest = uintmax_t{1} << 30;
  if (!error && size > kLargest)
    fail("cannot read image '", path, "': ", size,
         " bytes, more than an image file may have (1 GiB)");
  return decode_image(read_file_bytes(path), path);
}

std::vector<uint8_t> encode_image(const Image& image, const std::string& format, int jpeg_quality) {
  if (image.empty()) fail("cannot encode an empty image");
#ifdef MDA_HAVE_STB
  std::vector<uint8_t> encoded;
  auto sink = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  int ok = 0;
  if (format == "png") {
    ok = stbi_write_png_to_func(sink, &encoded, image.width, image.height, 3, image.pixels.data(),
                                image.width * 3);
  } else if (format == "jpg") {
    ok = stbi_write_jpg_to_func(sink, &encoded, image.width, image.height, 3, image.pixels.data(),
                                std::clamp(jpeg_quality, 1, 100));
  } else {
    fail("cannot encode images as '", format, "' (png or jpg)");
  }
  if (!ok) fail("cannot encode a ", image.width, "x", image.height, " image as ", format);
  return encoded;
#else
  (void)jpeg_quality;
  fail("cannot encode '", format, "' images: this mda was built without image support");
#endif
}

void write_image(const std::string& path, const Image& image, int jpeg_quality) {
  if (image.empty()) fail("cannot write an empty image to '", path, "'");
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string format;
  if (ends_with(lower, ".png")) {
    format = "png";
  } else if (ends_with(lower, ".jpg") || ends_with(lower, ".jpeg")) {
    format = "jpg";
  } else {
    fail("cannot write '", path, "': unsupported extension (use .png, .jpg or .jpeg)");
  }
  const std::vector<uint8_t> encoded = encode_image(image, format, jpeg_quality);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(encoded.data()),
              static_cast<std::streamsize>(encoded.size()));
  });
}

}  // namespace mda
