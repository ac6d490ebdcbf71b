#include "mda/io/zip_reader.h"

#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {
namespace {

uint64_t le(const std::vector<uint8_t>& b, size_t at, int n, const std::string& path) {
  if (at + static_cast<size_t>(n) > b.size()) fail(path, ": truncated zip archive");
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<size_t>(i)];
  return v;
}

}  // namespace

ZipReader::ZipReader(const std::string& path) : path_(path), bytes_(read_file_bytes(path)) {
  const std::vector<uint8_t>& b = bytes_;
  if (b.size() < 22) fail(path, ": not a zip archive (too short)");
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
  size_t eocd = std::string::npos;
  const size_t lowest = b.size() > 65557 ? b.size() - 65557 : 0;
  for (size_t i = b.size() - 22 + 1; i-- > lowest;) {
    if (le(b, i, 4, path) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) fail(path, ": not a zip archive (no end of central directory)");
  uint64_t count = le(b, eocd + 10, 2, path);
  uint64_t directory = le(b, eocd + 16, 4, path);
  if (directory == 0xffffffffu || count == 0xffff) {  // zip64: locator just before the record
    if (eocd < 20 || le(b, eocd - 20, 4, path) != 0x07064b50) fail(path, ": bad zip64 locator");
    const uint64_t record = le(b, eocd - 20 + 8, 8, path);
    if (le(b, record, 4, path) != 0x06064b50) fail(path, ": bad zip64 record");
    count = le(b, record + 32, 8, path);
    directory = le(b, record + 48, 8, path);
  }
  size_t at = directory;
  for (uint64_t i = 0; i < count; ++i) {
    if (le(b, at, 4, path) != 0x02014b50) fail(path, ": corrupt zip central directory");
    Entry e;
    e.method = static_cast<uint16_t>(le(b, at + 10, 2, path));
    e.size = le(b, at + 20, 4, path);
    const uint64_t name_length = le(b, at + 28, 2, path), extra_length = le(b, at + 30, 2, path),
                   comment_length = le(b, at + 32, 2, path);
    e.local_header = le(b, at + 42, 4, path);
    if (at + 46 + name_length > b.size()) fail(path, ": truncated zip archive");
    const std::string name(reinterpret_cast<const char*>(b.data()) + at + 46, name_length);
    // zip64 extra field: real sizes and offset when the 32-bit fields are saturated.
    size_t extra = at + 46 + name_length;
    const size_t extra_end = extra + extra_length;
    while (extra + 4 <= extra_end) {
      const uint64_t id = le(b, extra, 2, path), length = le(b, extra + 2, 2, path);
      if (id == 0x0001) {
        size_t p = extra + 4;
        if (le(b, at + 24, 4, path) == 0xffffffffu) p += 8;  // uncompressed size
        if (e.size == 0xffffffffu) {
          e.size = le(b, p, 8, path);
          p += 8;
        }
        if (e.local_header == 0xffffffffu) e.local_header = le(b, p, 8, path);
      }
      extra += 4 + length;
    }
    entries_[name] = e;
    at = extra_end + comment_length;
  }
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

std::vector<uint8_t> ZipReader::read(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) fail(path_, ": the archive has no entry '", name, "'");
  const Entry& e = it->second;
  if (e.method != 0)
    fail(path_, ": entry '", name, "' is compressed (method ", e.method,
         "); only stored entries are read");
  if (le(bytes_, e.local_header, 4, path_) != 0x04034b50)
    fail(path_, ": corrupt local header of '", name, "'");
  const uint64_t start = e.local_header + 30 + le(bytes_, e.local_header + 26, 2, path_) +
                         le(bytes_, e.local_header + 28, 2, path_);
  if (start + e.size > bytes_.size()) fail(path_, ": entry '", name, "' is truncated");
  return std::vector<uint8_t>(bytes_.begin() + static_cast<std::ptrdiff_t>(start),
                              bytes_.begin() + static_cast<std::ptrdiff_t>(start + e.size));
}

}  // namespace mda
