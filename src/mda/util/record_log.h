// An append-only file of records, each flushed to disk before append() returns: the write-ahead
// log of a live index. A file starts with an 8-byte tag and a 64-bit number (the generation it
// belongs to); each record is its length (u32), its FNV-1a checksum (u64) and its bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mda {

class RecordLog {
 public:
  // Creates the file (tag, number) when missing, else checks its tag and number and reads its
  // records. A record cut short or damaged at the very end (a crash during an append that was
  // never acknowledged) is cut off with a warning; damage followed by more data is an error.
  RecordLog(const std::string& path, const std::string& tag, uint64_t number);
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;
  ~RecordLog();

  // The records found when the file was opened, in order (cleared by release_records()).
  const std::vector<std::vector<uint8_t>>& records() const { return records_; }
  void release_records() {
    records_.clear();
    records_.shrink_to_fit();
  }

  // Written and flushed to disk (fdatasync) when it returns; on failure the file is cut back.
  void append(const std::vector<uint8_t>& record);
  // Cuts off the last record appended (whose change could not be applied), durably.
  void drop_last();

  int64_t count() const { return count_; }
  int64_t bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void truncate_to(int64_t size);
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0, count_ = 0, last_record_start_ = -1;
  std::vector<std::vector<uint8_t>> records_;
};

}  // namespace mda
