#include "mda/image/codec.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "mda/util/byte_order.h"
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
#ifdef MDA_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif
#ifdef MDA_HAVE_LIBPNG
#include <csetjmp>

#include <png.h>
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
  return static_cast<uint32_t>(load_le(&b[at], 4));
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
      // stb reads only uncompressed and bit-field BMPs; given another compression it would read
      // the announced rows from past the data (a 57-byte file announcing 1.5M rows, found by
      // fuzzing).
      if (compression != 0 && compression != 3)
        fail(source, ": unsupported BMP compression ", compression,
             " (uncompressed or bit fields)");
      {  // uncompressed: the size is known exactly
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

uint16_t be16(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint16_t>(load_be(&b[at], 2));
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return static_cast<uint32_t>(load_be(&b[at], 4));
}

struct ImageSize {
  int64_t width = 0, height = 0;
};

// The size a file announces, read from its header without decoding anything.
ImageSize announced_size(const std::vector<uint8_t>& b, Format format, const std::string& source) {
  switch (format) {
    case Format::kPng:
      if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0)
        fail(source, ": corrupt PNG (no IHDR chunk first)");
      return {be32(b, 16), be32(b, 20)};
    case Format::kBmp: {
      const int64_t height = static_cast<int32_t>(le32(b, 22));
      return {static_cast<int32_t>(le32(b, 18)), height < 0 ? -height : height};
    }
    case Format::kJpeg:
      // Walk the marker segments up to the first start-of-frame, which holds the size.
      for (size_t at = 2; at + 4 <= b.size();) {
        if (b[at] != 0xff || b[at + 1] == 0xff) {  // stray bytes or fill bytes: skip, as libjpeg
          ++at;
          continue;
        }
        const uint8_t marker = b[at + 1];
        if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // markers without a length
          at += 2;
          continue;
        }
        const bool start_of_frame =
            marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
        if (start_of_frame) {
          if (at + 9 > b.size()) break;
          return {be16(b, at + 7), be16(b, at + 5)};
        }
        if (marker == 0xd9 || marker == 0xda) break;  // image end or data before any frame
        at += 2 + be16(b, at + 2);
      }
      fail(source, ": corrupt JPEG (no start-of-frame marker)");
    case Format::kUnknown:
      break;
  }
  return {};
}

void check_size(const ImageSize& size, const DecodeLimits& limits, const std::string& source) {
  if (size.width <= 0 || size.height <= 0)
    fail(source, ": the image announces a size of ", size.width, "x", size.height);
  if (size.width > limits.max_pixels / size.height)  // width * height could overflow
    throw ImageTooLargeError(cat(source, ": the image announces ", size.width, "x", size.height,
                                 " pixels, more than the ", limits.max_pixels,
                                 " allowed (refused before decoding)"));
}

#ifdef MDA_HAVE_TURBOJPEG
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& source) {
  const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) fail(source, ": cannot start the JPEG decoder");
  const auto error = [&] { return std::string(tjGetErrorStr2(handle.get())); };
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), bytes.data(), bytes.size(), &width, &height, &subsampling,
                          &colorspace) != 0)
    fail(source, ": cannot decode JPEG: ", error());
  // A progressive file with thousands of scans costs minutes; libjpeg-turbo stops at 500.
  const int flags = TJFLAG_LIMITSCANS;
  Image image(width, height);
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    // Four channels as stored; Adobe's files (nearly all CMYK JPEGs) store them inverted, so
    // each colour is its stored C, M or Y times the stored K (as stb and browsers do).
    std::vector<uint8_t> cmyk(static_cast<size_t>(width) * height * 4);
    if (tjDecompress2(handle.get(), bytes.data(), bytes.size(), cmyk.data(), width, 0, height,
                      TJPF_CMYK, flags) != 0)
      fail(source, ": cannot decode CMYK JPEG: ", error());
    for (size_t p = 0; p < static_cast<size_t>(width) * height; ++p) {
      const unsigned k = cmyk[p * 4 + 3];
      for (int c = 0; c < 3; ++c)
        image.pixels[p * 3 + c] = static_cast<uint8_t>((cmyk[p * 4 + c] * k + 127) / 255);
    }
    return image;
  }
  if (tjDecompress2(handle.get(), bytes.data(), bytes.size(), image.pixels.data(), width, 0, height,
                    TJPF_RGB, flags) != 0)
    fail(source, ": cannot decode JPEG: ", error());
  return image;
}
#endif

#ifdef MDA_HAVE_TURBOJPEG
// Chroma at full resolution from quality 90 up, halved in both directions below (as stb did).
std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitCompress(), tjDestroy);
  if (!handle) fail("cannot start the JPEG encoder");
  quality = std::clamp(quality, 1, 100);
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  if (tjCompress2(handle.get(), image.pixels.data(), image.width, 0, image.height, TJPF_RGB, &jpeg,
                  &size, quality >= 90 ? TJSAMP_444 : TJSAMP_420, quality, 0) != 0) {
    tjFree(jpeg);
    fail("cannot encode a ", image.width, "x", image.height,
         " image as JPEG: ", tjGetErrorStr2(handle.get()));
  }
  std::vector<uint8_t> encoded(jpeg, jpeg + size);
  tjFree(jpeg);
  return encoded;
}
#endif

#ifdef MDA_HAVE_LIBPNG
struct PngInput {
  const std::vector<uint8_t>* bytes = nullptr;
  size_t at = 0;
  char error[200] = {};
  png_bytep* rows = nullptr;  // one per row of the caller's image
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (count > input->bytes->size() - input->at) png_error(png, "the file ends inside a chunk");
  std::memcpy(out, input->bytes->data() + input->at, count);
  input->at += count;
}

void png_on_error(png_structp png, png_const_charp message) {
  auto* input = static_cast<PngInput*>(png_get_error_ptr(png));
  std::snprintf(input->error, sizeof input->error, "%s", message);
  std::longjmp(png_jmpbuf(png), 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// libpng reports errors by longjmp, so this frame holds nothing with a destructor: the pixels and
// row pointers are owned by the caller. Returns false with input->error set on failure. The
// conversions are those of stb and PIL: palette and low bit depths expanded, 16-bit to its high
// byte, alpha dropped (not composited), grey copied to the three channels; gamma chunks are
// ignored.
bool decode_png_rows(PngInput* input, Image* image) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, input, png_on_error, png_on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_set_read_fn(png, input, png_read_from_memory);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  // The caller sized `image` from the same IHDR chunk, already checked against the pixel limit.
  if (static_cast<int64_t>(image->width) != width || static_cast<int64_t>(image->height) != height)
    png_error(png, "the IHDR chunk changed size");
  const int color_type = png_get_color_type(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<png_size_t>(width) * 3)
    png_error(png, "unexpected row layout after conversion to RGB");
  png_read_image(png, input->rows);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

Image decode_png(const std::vector<uint8_t>& bytes, const ImageSize& size,
                 const std::string& source) {
  Image image(static_cast<int>(size.width), static_cast<int>(size.height));
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.pixels.data() + y * image.width * 3;
  PngInput input;
  input.bytes = &bytes;
  input.rows = rows.data();
  if (!decode_png_rows(&input, &image))
    fail(source, ": cannot decode PNG: ", input.error[0] ? input.error : "libpng failed");
  return image;
}
#endif

#ifdef MDA_HAVE_STB
Image decode_with_stb(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail(source, ": ", bytes.size(), " bytes, too large for the BMP decoder");
  int width = 0, height = 0, channels = 0;
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width,
                                        &height, &channels, 3);
  if (!data) fail(source, ": cannot decode image: ", stbi_failure_reason());
  Image image(width, height);
  std::memcpy(image.pixels.data(), data, image.pixels.size());
  stbi_image_free(data);
  return image;
}
#endif

}  // namespace

bool image_codecs_available() {
#ifdef MDA_HAVE_STB
  return true;
#else
  return false;
#endif
}

std::string image_decoders() {
  std::string jpeg = "stb", png = "stb";
#ifdef MDA_HAVE_TURBOJPEG
  jpeg = "libjpeg-turbo";
#endif
#ifdef MDA_HAVE_LIBPNG
  png = "libpng";
#endif
#ifndef MDA_HAVE_STB
  if (jpeg == "stb") jpeg = "none";
  if (png == "stb") png = "none";
  return "JPEG " + jpeg + ", PNG " + png + ", BMP none";
#else
  return "JPEG " + jpeg + ", PNG " + png + ", BMP stb";
#endif
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& source,
                   const DecodeLimits& limits) {
  if (bytes.empty()) fail(source, ": empty image file");
  const Format format = sniff(bytes);
  if (format == Format::kUnknown) {
    throw UnsupportedImageError(
        cat(source, ": unsupported image format (supported: JPEG, PNG, BMP)"));
  }
  check_complete(bytes, format, source);
  const ImageSize size = announced_size(bytes, format, source);
  check_size(size, limits, source);
#ifdef MDA_HAVE_TURBOJPEG
  if (format == Format::kJpeg) return decode_jpeg(bytes, source);
#endif
#ifdef MDA_HAVE_LIBPNG
  if (format == Format::kPng) return decode_png(bytes, size, source);
#endif
#ifdef MDA_HAVE_STB
  return decode_with_stb(bytes, source);
#else
  fail(source, ": this mda was built without a decoder for this format (", image_decoders(), ")");
#endif
}

Image read_image(const std::string& path, const DecodeLimits& limits) {
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
  return decode_image(read_file_bytes(path), path, limits);
}

std::vector<uint8_t> encode_image(const Image& image, const std::string& format, int jpeg_quality) {
  if (image.empty()) fail("cannot encode an empty image");
#ifdef MDA_HAVE_TURBOJPEG
  if (format == "jpg") return encode_jpeg(image, jpeg_quality);
#endif
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
