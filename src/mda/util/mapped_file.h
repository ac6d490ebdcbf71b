// A whole file mapped read-only into memory: large arrays (descriptors, an index) are read in
// place, without a copy, and pages the program never touches are never read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mda {

class MappedFile {
 public:
  // Errors name `path`: a missing file, a folder or other non-regular file, a failed mapping.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size);
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace mda
