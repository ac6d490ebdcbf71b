// The processes of one job as the parallel stages see them: K ranks (MPI processes, mda/mpi/) or
// the single process of a plain run. The core library uses nothing but this interface, so it
// builds and runs without MPI; a rank's part of a stage is chosen from rank() and size(), and the
// results meet through all_gather().
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mda/util/error.h"

namespace mda {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's position among the ranks on its machine (for one GPU per rank).
  virtual int local_rank() const = 0;
  // Every rank's `mine`, in rank order, on every rank; every rank must call it.
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
};

// The job of one process: rank 0 of 1.
Collective& single_process();

// The job this process belongs to: what set_job() was given (the mda program sets its MPI job
// when launched by mpirun), else single_process().
Collective& job();
void set_job(Collective* collective);

// Some rank's part failed: thrown on every rank by agree_on_success(), naming each failed rank and
// its error (so that rank 0 can report them all, and the job exits 1 everywhere).
class RankFailure : public Error {
 public:
  using Error::Error;
};

// Every rank says whether its part succeeded (`error` empty) or why not; returns when all did,
// else throws RankFailure on every rank. A barrier too.
void agree_on_success(Collective& collective, const std::string& error);

// Runs `part` on this rank, then agree_on_success() with its exception's message, if any.
template <typename Part>
void run_on_every_rank(Collective& collective, Part&& part) {
  std::string error;
  try {
    part();
  } catch (const std::exception& e) {
    error = e.what();
  }
  agree_on_success(collective, error);
}

// The block [begin, end) of `n` items that `rank` of `size` takes: contiguous, in rank order,
// balanced, and (except the last end) on multiples of `align`, so that a rank's items fall into
// the same fixed-size tiles as in one process.
std::pair<int64_t, int64_t> rank_block(int64_t n, int rank, int size, int64_t align = 1);

}  // namespace mda
