// An exclusive advisory lock (flock) on PATH.lock for the object's life, so that writers of one
// file take turns: two `build-index --append` on one index both land instead of one being lost.
#pragma once

#include <string>

namespace mda {

class FileLock {
 public:
  explicit FileLock(const std::string& path);  // waits for the lock; errors name the lock file
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mda
