// The ranks of an MPI job (Open MPI's mpirun, Slurm's srun, MPICH's mpiexec) as a Collective.
// Only the mda program uses it, and only when an MPI launcher started it: a plain `mda ...` never
// initialises MPI.
#pragma once

#include <string>
#include <vector>

#include "mda/util/collective.h"

namespace mda {

class MpiJob : public Collective {
 public:
  // True when an MPI launcher started this process (its environment says so) and MDA_NO_MPI is
  // not set.
  static bool launched_by_mpi();

  MpiJob(int* argc, char*** argv);  // MPI_Init_thread; MPI calls come from the main thread only
  ~MpiJob() override;               // MPI_Finalize
  MpiJob(const MpiJob&) = delete;
  MpiJob& operator=(const MpiJob&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::vector<std::string> all_gather(const std::string& mine) override;

  // Ends every rank of the job with this exit status (a rank failed where the others may be
  // waiting for it).
  [[noreturn]] void abort(int status);

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace mda
