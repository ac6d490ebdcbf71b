// Decoding (JPEG, PNG, BMP) and writing (PNG, JPEG) of image files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/image/image.h"

namespace mda {

// True when this build can decode and write images (stb was found at configure time).
bool image_codecs_available();

// Throws mda::Error naming the file for a missing, corrupt, truncated or unsupported file.
Image read_image(const std::string& path);
// `source` names the data in error messages.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& source);

// Encodes to "png" or "jpg" (quality 1-100) in memory.
std::vector<uint8_t> encode_image(const Image& image, const std::string& format,
                                  int jpeg_quality = 90);
// Format from the extension: .png, or .jpg/.jpeg (quality 1-100). Written atomically.
void write_image(const std::string& path, const Image& image, int jpeg_quality = 90);

}  // namespace mda
