// Reads the stored (uncompressed) entries of a zip archive, as torch.save writes them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mda {

class ZipReader {
 public:
  // Throws naming the file if it is not a zip archive or is truncated.
  explicit ZipReader(const std::string& path);
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  // The bytes of a stored entry; a compressed entry is an error naming it.
  std::vector<uint8_t> read(const std::string& name) const;

 private:
  struct Entry {
    uint64_t local_header = 0, size = 0;
    uint16_t method = 0;
  };
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mda
