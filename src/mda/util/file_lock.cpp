#include "mda/util/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {

FileLock::FileLock(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const std::string folder = parent_dir(path);
  if (!folder.empty()) make_dirs(folder);  // the locked file's folder may not exist yet
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open the lock file ", lock_path, ": ", std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int error = errno;
    ::close(fd_);
    fail("cannot lock ", lock_path, ": ", std::strerror(error));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace mda
