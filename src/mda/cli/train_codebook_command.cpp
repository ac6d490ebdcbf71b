// mda train-codebook: k-means visual words from local features.
#include "mda/asmk/codebook.h"
#include "mda/asmk/kmeans.h"
#include "mda/asmk/matrix.h"
#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/features/feature_folder.h"
#include "mda/io/json.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

int run_train_codebook(const std::vector<std::string>& args) {
  ArgParser parser(
      "train-codebook",
      "Trains the visual codebook with k-means (asmk/faiss defaults: sampled points capped "
      "per word,\nLloyd iterations, seeded) and writes centroids.npy (float32 k x d) with "
      "the objective and time\nin a JSON file beside it.");
  parser
      .option("--features", "PATH",
              "local features: a HOW-layout folder (vecs.npy, imids.npy) or a vecs.npy", "", true)
      .option("--out", "FILE", "centroids .npy to write", "", true)
      .option("--device", "cpu|cuda|torch-cpu",
              "where the assignment step runs: BLAS, or libtorch on the GPU or the CPU "
              "(libtorch builds)",
              "cpu")
      .config_sections({"train_codebook.", "runtime.threads"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  train_codebook_stage(config, parser.get("--features"), parser.get("--out"),
                       parser.get("--device"));
  return 0;
}

void train_codebook_stage(const Config& config, const std::string& features_path,
                          const std::string& out, const std::string& device) {
  refuse_output_over_input(out, feature_folder_files(features_path));
  const FeatureSet features = read_feature_folder(features_path, /*allow_empty_images=*/true);
  log_matrix_kernel();
  KMeansOptions options = kmeans_options_from_config(config);
  options.device = device;
  const int64_t n =
      static_cast<int64_t>(features.descriptors.size()) / std::max<int64_t>(features.dim, 1);
  log_info("k-means: ", options.k, " words from ", n, " descriptors of dimension ", features.dim,
           options.device != "cpu" ? " on " + options.device
           : blas_available()      ? std::string(" (BLAS)")
                                   : std::string(" (no BLAS: slow)"));
  // Under mpirun every rank reads the features and assigns its block of them; rank 0 writes.
  Collective& ranks = job();
  if (ranks.size() > 1) {
    log_info("k-means: the assignment step split over ", ranks.size(), " MPI ranks");
  }
  const KMeansResult result =
      train_kmeans(features.descriptors.data(), n, features.dim, options, ranks);
  if (ranks.rank() != 0) return;
  Codebook::from_centroids(result.centroids, result.k, result.dim).save(out);
  Value report = Value::empty_dict();
  report.set("words", Value(result.k));
  report.set("dim", Value(result.dim));
  report.set("training_points", Value(result.training_points));
  report.set("seconds", Value(result.seconds));
  report.set("device", Value(options.device));
  Value::List objective;
  for (double o : result.objective) objective.emplace_back(o);
  report.set("objective", Value(std::move(objective)));
  const std::string base =
      out.size() > 4 && ends_with(out, ".npy") ? out.substr(0, out.size() - 4) : out;
  write_json(base + ".json", report);
  config.save(sidecar_config_path(out));
  log_info("wrote ", out, ": objective ", result.objective.empty() ? 0.0 : result.objective.back(),
           " after ", result.objective.size(), " iterations, ", format_duration(result.seconds));
}

}  // namespace mda
