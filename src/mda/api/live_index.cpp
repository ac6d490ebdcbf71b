// mda::LiveIndex (mda/live_index.h): an Index, a RecordLog of its changes, and the generation
// files of its folder.
#include "mda/live_index.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "mda/util/byte_order.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/record_log.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

constexpr char kLogTag[] = "MDALOG01";
enum RecordType : uint8_t { kAdd = 1, kRemove = 2 };

// Reads a record's fields in order, each checked against the bytes left.
class RecordReader {
 public:
  RecordReader(const std::vector<uint8_t>& bytes, const std::string& what)
      : bytes_(bytes), what_(what) {}
  uint64_t number(int size) { return load_le(take(static_cast<uint64_t>(size)), size); }
  const uint8_t* take(uint64_t size) {
    need(size);
    const uint8_t* start = bytes_.data() + at_;
    at_ += size;
    return start;
  }
  void finish() const {
    if (at_ != bytes_.size()) fail(what_, ": ", bytes_.size() - at_, " bytes left over");
  }

 private:
  void need(uint64_t size) const {
    if (size > bytes_.size() - at_) fail(what_, ": the record ends early");
  }
  const std::vector<uint8_t>& bytes_;
  const std::string& what_;
  size_t at_ = 0;
};

// index-G.mdai of the folder; generation 0 is the base index file itself.
std::string generation_index(const std::string& folder, const std::string& base_index,
                             int64_t generation) {
  return generation == 0 ? base_index : join_path(folder, cat("index-", generation, ".mdai"));
}

// The start of every record: its type and the image's name.
std::vector<uint8_t> record_for(RecordType type, const std::string& name) {
  std::vector<uint8_t> record;
  append_le(record, type, 1);
  append_le(record, name.size(), 4);
  record.insert(record.end(), name.begin(), name.end());
  return record;
}

std::string base_identity(const std::string& base_index) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path path = fs::weakly_canonical(fs::absolute(base_index), error);
  const uintmax_t size = fs::file_size(base_index, error);
  if (error) fail("cannot open the index '", base_index, "': ", error.message());
  return cat(path.string(), "\n", size, "\n");
}

}  // namespace

struct LiveIndex::State {
  std::string folder, base_index;
  int64_t generation = 0, replayed = 0;
  Index index;
  std::unique_ptr<RecordLog> log;
  mutable std::mutex writer;  // add, remove and compact take turns

  State(std::string folder_, std::string base, int64_t generation_, Index index_)
      : folder(std::move(folder_)),
        base_index(std::move(base)),
        generation(generation_),
        index(std::move(index_)) {}

  std::string index_path(int64_t g) const { return generation_index(folder, base_index, g); }
  std::string log_path(int64_t g) const { return join_path(folder, cat("log-", g, ".wal")); }

  void check_features(const std::string& name, const LocalFeatures& features) const {
    const int64_t dim = index.codebook().dim;
    if (name.empty()) fail("live index: an image needs a name");
    if (features.dim != dim)
      fail("live index: image '", name, "' has descriptors of dimension ", features.dim,
           ", the index's codebook has ", dim);
    const int64_t rows =
        features.dim > 0 ? static_cast<int64_t>(features.descriptors.size()) / features.dim : 0;
    if (rows < 1 || rows * features.dim != static_cast<int64_t>(features.descriptors.size()))
      fail("live index: image '", name, "' has ", features.descriptors.size(),
           " descriptor values, not a positive multiple of ", features.dim);
    for (size_t i = 0; i < features.descriptors.size(); ++i)
      if (!std::isfinite(features.descriptors[i]))
        fail("live index: image '", name, "' has a non-finite value in descriptor ",
             i / static_cast<size_t>(features.dim));
  }

  // Applies the log's records: consecutive additions together (one quantization pass).
  void replay() {
    std::vector<LocalFeatures> adds;
    std::vector<std::string> add_names;
    const auto flush_adds = [&] {
      if (adds.empty()) return;
      index.add(adds, add_names);
      adds.clear();
      add_names.clear();
    };
    const auto& records = log->records();
    for (size_t r = 0; r < records.size(); ++r) {
      const std::string what = cat("log '", log->path(), "' record ", r + 1);
      RecordReader reader(records[r], what);
      const uint64_t type = reader.number(1);
      const uint64_t name_bytes = reader.number(4);
      const uint8_t* name_data = reader.take(name_bytes);
      const std::string name(reinterpret_cast<const char*>(name_data), name_bytes);
      if (type == kAdd) {
        LocalFeatures features;
        features.dim = static_cast<int64_t>(reader.number(8));
        const uint64_t rows = reader.number(8);
        if (features.dim < 1 || rows < 1 || rows > (uint64_t{1} << 40) / uint64_t(features.dim))
          fail(what, ": ", rows, " descriptors of dimension ", features.dim);
        const uint64_t values = rows * static_cast<uint64_t>(features.dim);
        const uint8_t* data = reader.take(values * sizeof(float));
        features.descriptors.resize(values);
        std::memcpy(features.descriptors.data(), data, values * sizeof(float));
        features.strengths.assign(rows, 1.0f);
        reader.finish();
        check_features(name, features);
        adds.push_back(std::move(features));
        add_names.push_back(name);
      } else if (type == kRemove) {
        reader.finish();
        flush_adds();
        index.remove({name});
      } else {
        fail(what, ": unknown record type ", type);
      }
    }
    flush_adds();
    replayed = static_cast<int64_t>(records.size());
    log->release_records();
  }
};

LiveIndex::LiveIndex(const std::string& folder, const std::string& base_index) {
  make_dirs(folder);
  const std::string identity = base_identity(base_index);
  const std::string base_file = join_path(folder, "BASE");
  const std::string current_file = join_path(folder, "CURRENT");
  if (file_exists(base_file)) {
    const std::string recorded = read_file_text(base_file);
    if (recorded != identity)
      fail("live index folder '", folder, "' was started from another index file (BASE holds '",
           std::string(trim(recorded)), "', given '", std::string(trim(identity)),
           "'); use another folder");
  } else {
    write_file_atomic(base_file, identity);
  }
  int64_t generation = 0;
  if (file_exists(current_file)) {
    const std::string text(trim(read_file_text(current_file)));
    const std::string prefix = "generation ";
    long long value = -1;
    if (!starts_with(text, prefix) || !parse_int(text.substr(prefix.size()), value) || value < 0)
      fail("'", current_file, "' is not a live index CURRENT file: '", text, "'");
    generation = value;
  }
  state_ = std::make_unique<State>(folder, base_index, generation,
                                   Index::open(generation_index(folder, base_index, generation)));
  state_->log = std::make_unique<RecordLog>(state_->log_path(generation), kLogTag,
                                            static_cast<uint64_t>(generation));
  state_->replay();
  if (state_->replayed > 0)
    log_info("live index '", folder, "': generation ", generation, ", replayed ", state_->replayed,
             " logged changes");
}

LiveIndex::LiveIndex(LiveIndex&&) noexcept = default;
LiveIndex& LiveIndex::operator=(LiveIndex&&) noexcept = default;
LiveIndex::~LiveIndex() = default;

void LiveIndex::add(const std::string& name, const LocalFeatures& features) {
  State& s = *state_;
  const std::lock_guard<std::mutex> lock(s.writer);
  s.check_features(name, features);
  if (s.index.contains(name)) fail("live index: image '", name, "' is already indexed");
  const int64_t rows = static_cast<int64_t>(features.descriptors.size()) / features.dim;
  std::vector<uint8_t> record = record_for(kAdd, name);
  record.reserve(record.size() + 16 + features.descriptors.size() * sizeof(float));
  append_le(record, static_cast<uint64_t>(features.dim), 8);
  append_le(record, static_cast<uint64_t>(rows), 8);
  const auto* values = reinterpret_cast<const uint8_t*>(features.descriptors.data());
  record.insert(record.end(), values, values + features.descriptors.size() * sizeof(float));
  s.log->append(record);
  try {
    s.index.add(std::vector<LocalFeatures>{features}, {name});
  } catch (...) {
    s.log->drop_last();  // what is logged must replay: a change that failed is taken out again
    throw;
  }
}

void LiveIndex::remove(const std::string& name) {
  State& s = *state_;
  const std::lock_guard<std::mutex> lock(s.writer);
  if (!s.index.contains(name)) fail("live index: no image '", name, "' in the index");
  s.log->append(record_for(kRemove, name));
  try {
    s.index.remove({name});
  } catch (...) {
    s.log->drop_last();
    throw;
  }
}

void LiveIndex::compact() {
  State& s = *state_;
  const std::lock_guard<std::mutex> lock(s.writer);
  const int64_t next = s.generation + 1;
  s.index.save(s.index_path(next));
  std::filesystem::remove(s.log_path(next));  // left over from a compaction cut short
  auto log = std::make_unique<RecordLog>(s.log_path(next), kLogTag, static_cast<uint64_t>(next));
  write_file_atomic(join_path(s.folder, "CURRENT"), cat("generation ", next, "\n"));
  // The switch is made; the old pair is no longer needed (index-0 is the user's base file).
  std::error_code ignored;
  std::filesystem::remove(s.log_path(s.generation), ignored);
  if (s.generation > 0) std::filesystem::remove(s.index_path(s.generation), ignored);
  s.log = std::move(log);
  s.generation = next;
}

const Index& LiveIndex::index() const { return state_->index; }

LiveIndexStatus LiveIndex::status() const {
  const std::lock_guard<std::mutex> lock(state_->writer);
  return {state_->generation, state_->log->count(), state_->log->bytes(), state_->replayed};
}

}  // namespace mda
