// Decoding (JPEG, PNG, BMP) and writing (PNG, JPEG) of image files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/image/image.h"
#include "mda/util/error.h"

namespace mda {

// True when this build can decode and write images (stb was found at configure time).
bool image_codecs_available();
// Which library decodes each format in this build, e.g. "JPEG libjpeg-turbo, PNG libpng, BMP stb".
std::string image_decoders();

// What decode_image throws, beside plain mda::Error for corrupt or truncated files, so that a
// caller can tell the cases apart (mda serve answers 413 and 415) without reading messages.
class ImageTooLargeError : public Error {  // refused from its header, before decoding
 public:
  using Error::Error;
};
class UnsupportedImageError : public Error {  // not JPEG, PNG or BMP
 public:
  using Error::Error;
};

struct DecodeLimits {
  // Files announcing more pixels are refused from their header, before any pixel is allocated.
  // The default (2^28, about 16000 x 16000) admits any photograph and refuses decompression bombs.
  int64_t max_pixels = int64_t{1} << 28;
};

// Throws mda::Error naming the file for a missing, corrupt, truncated, oversized or unsupported
// file. JPEG is decoded by libjpeg-turbo and PNG by libpng where the build has them (stb
// otherwise), BMP by stb.
Image read_image(const std::string& path, const DecodeLimits& limits = {});
// `source` names the data in error messages.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& source,
                   const DecodeLimits& limits = {});

// Encodes to "png" (stb) or "jpg" (quality 1-100; libjpeg-turbo where the build has it, else stb)
// in memory.
std::vector<uint8_t> encode_image(const Image& image, const std::string& format,
                                  int jpeg_quality = 90);
// Format from the extension: .png, or .jpg/.jpeg (quality 1-100). Written atomically.
void write_image(const std::string& path, const Image& image, int jpeg_quality = 90);

}  // namespace mda
