// An index that changes while it is searched and loses nothing it acknowledged: every addition
// and removal is appended to a write-ahead log and flushed to disk (fdatasync) before it is
// applied and before add()/remove() return; opening replays the log over the last index file.
// compact() folds the log into a new index file.
//
// The state lives in one folder (docs/formats.md, "Live index folder"):
//   CURRENT         "generation G": which pair below is the state (replaced atomically)
//   BASE            the index file the folder started from (path, size), checked on every open
//   index-G.mdai    the index at generation G (G = 0: the base index file itself, never written)
//   log-G.wal       the changes made since index-G
// A crash at any point leaves CURRENT naming a complete pair; a record torn by a crash at the end
// of the log (never acknowledged) is dropped with a warning.
//
// Thread safety: searches through index() run concurrently with add/remove/compact, which take
// turns with each other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mda/index.h"
#include "mda/local_features.h"

namespace mda {

struct LiveIndexStatus {
  int64_t generation = 0;   // compactions so far
  int64_t log_records = 0;  // changes in the log since the last index file
  int64_t log_bytes = 0;
  int64_t replayed = 0;  // records replayed when the folder was opened
};

class LiveIndex {
 public:
  // Opens `folder` (created with generation 0 when missing or empty) over `base_index`; refuses a
  // folder that was started from another base index file.
  LiveIndex(const std::string& folder, const std::string& base_index);
  LiveIndex(LiveIndex&&) noexcept;
  LiveIndex& operator=(LiveIndex&&) noexcept;
  ~LiveIndex();

  // Durable when they return. `name` must be new (add) or present (remove); the features need at
  // least one finite descriptor of the codebook's dimension. Errors change nothing.
  void add(const std::string& name, const LocalFeatures& features);
  void remove(const std::string& name);
  // Writes index-(G+1) with every change applied, starts an empty log and switches CURRENT to it.
  void compact();

  const Index& index() const;
  LiveIndexStatus status() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mda
