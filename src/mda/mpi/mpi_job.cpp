#include "mda/mpi/mpi_job.h"

#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdlib>

namespace mda {
namespace {

void check(int status, const char* call) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, text, &length);
    fail("MPI: ", call, " failed: ", std::string(text, static_cast<size_t>(length)));
  }
}

}  // namespace

bool MpiJob::launched_by_mpi() {
  const char* off = std::getenv("MDA_NO_MPI");
  if (off && *off && std::string(off) != "0") return false;
  // Open MPI's mpirun, PMIx launchers (Open MPI 4+, Slurm --mpi=pmix), PMI/PMI2 (MPICH, Slurm).
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(variable)) return true;
  }
  return false;
}

MpiJob::MpiJob(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  MPI_Comm machine;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(machine, &local_rank_), "MPI_Comm_rank");
  MPI_Comm_free(&machine);
}

MpiJob::~MpiJob() { MPI_Finalize(); }

std::vector<std::string> MpiJob::all_gather(const std::string& mine) {
  if (mine.size() > static_cast<size_t>(INT_MAX))
    fail("MPI: a rank's message of ", mine.size(), " bytes is over MPI's 2 GiB count limit");
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<size_t>(size_));
  check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD),
        "MPI_Allgather");
  std::vector<int> displacements(static_cast<size_t>(size_));
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    if (total > INT_MAX) fail("MPI: the ranks' messages add up to over 2 GiB");
    displacements[static_cast<size_t>(r)] = static_cast<int>(total);
    total += lengths[static_cast<size_t>(r)];
  }
  if (total > INT_MAX) fail("MPI: the ranks' messages add up to over 2 GiB");
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(),
                       displacements.data(), MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    out.push_back(all.substr(static_cast<size_t>(displacements[static_cast<size_t>(r)]),
                             static_cast<size_t>(lengths[static_cast<size_t>(r)])));
  }
  return out;
}

void MpiJob::abort(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

}  // namespace mda
