#include "mda/util/record_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mda/util/byte_order.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {
namespace {

constexpr size_t kHeaderBytes = 16;
constexpr size_t kFrameBytes = 12;  // u32 length + u64 checksum
constexpr uint32_t kLargestRecord = uint32_t{1} << 30;

void write_all(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail("cannot write to '", path, "': ", std::strerror(errno));
    data += written;
    size -= static_cast<size_t>(written);
  }
}

void sync(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) fail("cannot flush '", path, "' to disk: ", std::strerror(errno));
}

}  // namespace

RecordLog::RecordLog(const std::string& path, const std::string& tag, uint64_t number)
    : path_(path) {
  if (tag.size() != 8) fail("record log tag must have 8 bytes, found '", tag, "'");
  const bool exists = file_exists(path);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open log '", path, "': ", std::strerror(errno));
  try {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) fail("cannot stat '", path, "': ", std::strerror(errno));
    if (!exists || info.st_size == 0) {
      std::vector<uint8_t> header(tag.begin(), tag.end());
      append_le(header, number, 8);
      write_all(fd_, header.data(), header.size(), path);
      sync(fd_, path);
      sync_folder(parent_dir(path));  // the new file's entry, too
      size_ = static_cast<int64_t>(header.size());
      return;
    }
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), tag.data(), 8) != 0)
      fail("'", path, "' is not a log of this kind (expected the tag '", tag, "')");
    if (load_le(bytes.data() + 8, 8) != number)
      fail("'", path, "' belongs to generation ", load_le(bytes.data() + 8, 8), ", expected ",
           number);
    size_t at = kHeaderBytes;
    while (at < bytes.size()) {
      const size_t left = bytes.size() - at;
      const uint64_t length = left >= kFrameBytes ? load_le(bytes.data() + at, 4) : 0;
      const bool complete =
          left >= kFrameBytes && length <= kLargestRecord && length <= left - kFrameBytes;
      const bool intact = complete && fnv1a64(bytes.data() + at + kFrameBytes, length) ==
                                          load_le(bytes.data() + at + 4, 8);
      if (!intact) {
        const bool at_the_end = !complete || at + kFrameBytes + length == bytes.size();
        if (!at_the_end)
          fail("log '", path, "' is damaged at byte ", at, " (record ", records_.size() + 1,
               ", checksum mismatch) with ", left, " bytes after it; refusing to drop them");
        log_warning("log '", path, "': the last ", left, " bytes are a record cut short by a crash",
                    " (never acknowledged); dropped");
        break;
      }
      records_.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(at + kFrameBytes),
                            bytes.begin() + static_cast<std::ptrdiff_t>(at + kFrameBytes + length));
      last_record_start_ = static_cast<int64_t>(at);
      at += kFrameBytes + length;
    }
    count_ = static_cast<int64_t>(records_.size());
    size_ = static_cast<int64_t>(at);
    if (at != bytes.size()) truncate_to(size_);
    if (::lseek(fd_, size_, SEEK_SET) < 0) fail("cannot seek in '", path, "'");
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

RecordLog::~RecordLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RecordLog::truncate_to(int64_t size) {
  if (::ftruncate(fd_, size) != 0 || ::lseek(fd_, size, SEEK_SET) < 0)
    fail("cannot cut '", path_, "' back to ", size, " bytes: ", std::strerror(errno));
  sync(fd_, path_);
  size_ = size;
}

void RecordLog::append(const std::vector<uint8_t>& record) {
  if (record.size() > kLargestRecord)
    fail("a log record of ", record.size(), " bytes is larger than allowed (", kLargestRecord, ")");
  std::vector<uint8_t> frame;
  frame.reserve(kFrameBytes + record.size());
  append_le(frame, record.size(), 4);
  append_le(frame, fnv1a64(record.data(), record.size()), 8);
  frame.insert(frame.end(), record.begin(), record.end());
  const int64_t start = size_;
  try {
    write_all(fd_, frame.data(), frame.size(), path_);
    sync(fd_, path_);
  } catch (...) {
    truncate_to(start);  // nothing half-written stays (disk full)
    throw;
  }
  size_ = start + static_cast<int64_t>(frame.size());
  last_record_start_ = start;
  ++count_;
}

void RecordLog::drop_last() {
  if (last_record_start_ < 0) fail("log '", path_, "': no record to drop");
  truncate_to(last_record_start_);
  last_record_start_ = -1;
  --count_;
}

}  // namespace mda
