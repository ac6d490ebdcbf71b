// mda: the command-line front end. One sub-command per pipeline stage.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "mda/cli/command_context.h"
#ifdef MDA_HAVE_TORCH
#include "mda/net/torch_point_assigner.h"
#endif
#include "mda/image/codec.h"
#ifdef MDA_HAVE_MPI
#include "mda/mpi/mpi_job.h"
#endif
#include "mda/util/allocator_tuning.h"
#include "mda/util/collective.h"
#include "mda/util/log.h"
#include "mda/version.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* summary;
};

// The commands that need the network are only in the program built with libtorch (mda-net);
// elsewhere their entry has no function and the command is handed over (hand_to_network_program).
#ifdef MDA_HAVE_TORCH
#define MDA_NETWORK_COMMAND(function) function
#else
#define MDA_NETWORK_COMMAND(function) nullptr
#endif

const Command kCommands[] = {
    {"demo", MDA_NETWORK_COMMAND(mda::run_demo),
     "build small built-in datasets, train a small MDA on them and compare it untrained/trained"},
    {"evaluate", mda::run_evaluate,
     "Revisited Oxford/Paris mAP (Easy/Medium/Hard) and mP@k of a ranking"},
    {"import-weights", MDA_NETWORK_COMMAND(mda::run_import_weights),
     "make a model file from pretrained backbone weights (.pth, .safetensors, .tflite)"},
    {"train", MDA_NETWORK_COMMAND(mda::run_train),
     "train MDA (or HOW) from image-level labels: mining, losses, checkpoints, validation"},
    {"report", MDA_NETWORK_COMMAND(mda::run_report),
     "HTML report: top results per query, attention maps per head, training curves"},
    {"run", MDA_NETWORK_COMMAND(mda::run_run),
     "the whole evaluation pipeline of a dataset, every stage cached (configs/*.yml)"},
    {"extract", MDA_NETWORK_COMMAND(mda::run_extract),
     "multi-scale local features of a dataset or image list (HOW .npy layout)"},
    {"train-codebook", mda::run_train_codebook,
     "k-means visual codebook from local features (centroids.npy)"},
    {"build-index", mda::run_build_index,
     "ASMK* inverted file of database features (append, shards)"},
    {"merge-index", mda::run_merge_index, "merge inverted files built from disjoint shards"},
    {"search", mda::run_search, "rank the database for query features (ranks.npy, scores, pairs)"},
#ifdef MDA_HAVE_HTTPLIB
    {"serve", mda::run_serve, "HTTP search service with live additions and a web page"},
#endif
    {"synthetic", mda::run_synthetic,
     "write the built-in procedural dataset and a training manifest of it"},
    {"config", mda::run_config,
     "print the effective configuration (defaults <- --config <- --set)"},
};

#ifndef MDA_HAVE_TORCH
// Whether this invocation needs the network: a network command, a search or service over query
// images (--model), or k-means on a libtorch device.
bool needs_network(const Command& command, const std::vector<std::string>& args) {
  if (!command.run) return true;
  const std::string name = command.name;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if ((name == "search" || name == "serve") &&
        (arg == "--model" || arg.rfind("--model=", 0) == 0))
      return true;
    if (name == "train-codebook") {
      std::string device;
      if (arg == "--device" && i + 1 < args.size()) device = args[i + 1];
      if (arg.rfind("--device=", 0) == 0) device = arg.substr(9);
      if (!device.empty() && device != "cpu") return true;
    }
  }
  return false;
}

// Runs the same command line in the program with libtorch, found beside this one; returns only
// when that is impossible, with the exit status to use.
int hand_to_network_program(const std::string& name, char** argv) {
#ifdef MDA_NETWORK_PROGRAM
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::filesystem::path program =
      (error ? std::filesystem::path(argv[0]) : self).parent_path() / MDA_NETWORK_PROGRAM;
  if (::access(program.c_str(), X_OK) == 0) {
    std::fflush(stdout);
    ::execv(program.c_str(), argv);
    std::cerr << "mda: '" << name << "' needs the network program " << program.string()
              << ", which could not be started: " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cerr << "mda: '" << name << "' needs the network code, and its program "
            << MDA_NETWORK_PROGRAM << " is not beside this one (" << program.string()
            << " is missing): reinstall mda, or build it with libtorch\n";
  return 2;
#else
  (void)argv;
  std::cerr << "mda: '" << name
            << "' needs the network code, and this mda was built without libtorch\n";
  return 2;
#endif
}
#endif

void print_usage() {
  std::cout
      << "mda " << MDA_VERSION_STRING
      << ": instance-level image retrieval with learned deep local features (MDA, ASMK*)\n\n"
      << "Usage: mda <command> [options]     (mda <command> --help for its options)\n\nCommands:\n";
  for (const Command& command : kCommands) {
#if !defined(MDA_HAVE_TORCH) && !defined(MDA_NETWORK_PROGRAM)
    if (!command.run) continue;  // no network in this build
#endif
    std::string name = command.name;
    name.resize(std::max<size_t>(name.size() + 2, 16), ' ');
    std::cout << "  " << name << command.summary << "\n";
  }
}

#ifdef MDA_HAVE_MPI
// One rank of `mpirun -np K mda COMMAND ...`: the commands that split their work over ranks ask
// mda::job(); the others run the same on every rank. A failure every rank agreed on (RankFailure)
// or a usage error (the same arguments on every rank) is reported once, by rank 0; any other error
// is reported by its rank, which then ends the whole job (the others may be waiting for it).
int run_as_mpi_rank(const Command& command, const std::vector<std::string>& args, int* argc,
                    char*** argv) {
  int status = 0;
  try {
    mda::MpiJob job(argc, argv);
    mda::set_job(&job);
    if (job.size() > 1) mda::set_log_prefix(mda::cat("rank ", job.rank(), "/", job.size(), ": "));
    try {
      // The other commands would run K times over the same outputs.
      const std::string name = command.name;
      if (job.size() > 1 && name != "extract" && name != "train-codebook" &&
          name != "build-index" && name != "search") {
        throw mda::UsageError(
            mda::cat("mda ", name,
                     " runs in one process; under mpirun only extract, train-codebook, "
                     "build-index and search split their work over the ranks"));
      }
      status = command.run(args);
    } catch (const mda::RankFailure& error) {
      if (job.rank() == 0) mda::log_error(error.what());
      status = 1;
    } catch (const mda::UsageError& error) {
      if (job.rank() == 0) mda::log_error(error.what());
      status = 2;
    } catch (const std::exception& error) {
      mda::log_error(error.what());
      if (job.size() > 1) job.abort(1);
      status = 1;
    }
    mda::set_job(nullptr);
  } catch (const std::exception& error) {  // MPI itself could not start
    mda::log_error(error.what());
    return 1;
  }
  return status;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  mda::keep_freed_memory_for_reuse();
  if (argc < 2) {
    print_usage();
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage();
    return 0;
  }
  if (name == "--version") {
    std::cout << "mda " << MDA_VERSION_STRING << "\nimage decoders: " << mda::image_decoders()
              << "\nMPI jobs: "
#ifdef MDA_HAVE_MPI
              << "yes (mpirun -np K mda extract|train-codebook|build-index|search)"
#else
              << "no (built without MPI)"
#endif
              << "\nnetwork (extract, train, search --model ...): "
#if defined(MDA_HAVE_TORCH)
              << "built in (libtorch)"
#elif defined(MDA_NETWORK_PROGRAM)
              << "handed to " MDA_NETWORK_PROGRAM " beside this program (libtorch)"
#else
              << "none (built without libtorch)"
#endif
              << "\n";
    return 0;
  }
#ifdef MDA_HAVE_TORCH
  // The k-means backends of the network library (--device torch-cpu|cuda), wired here: the core
  // library knows nothing of libtorch.
  mda::register_torch_point_assigners();
#endif
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const Command& command : kCommands) {
    if (name != command.name) continue;
#ifndef MDA_HAVE_TORCH
    if (needs_network(command, args)) return hand_to_network_program(name, argv);
#endif
#ifdef MDA_HAVE_MPI
    if (mda::MpiJob::launched_by_mpi()) return run_as_mpi_rank(command, args, &argc, &argv);
#endif
    try {
      return command.run(args);
    } catch (const mda::UsageError& error) {
      mda::log_error(error.what());
      return 2;
    } catch (const std::exception& error) {
      mda::log_error(error.what());
      return 1;
    }
  }
  std::cerr << "mda: unknown command '" << name << "' (mda --help lists the commands)\n";
  return 2;
}
