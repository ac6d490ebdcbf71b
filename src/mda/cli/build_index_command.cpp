// mda build-index / mda merge-index: the ASMK inverted file of a database.
#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/cli/command_context.h"
#include "mda/features/feature_folder.h"
#include "mda/io/json.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"

namespace mda {

namespace {

void report_stats(const InvertedFile& ivf, const std::string& path) {
  const IvfStats s = ivf.stats();
  log_info(path, ": ", s.images_with_words, " images, ", s.entries, " entries, ",
           s.vectors_per_image, " vectors per image, ", s.empty_words, " of ", s.words,
           " words empty, imbalance ", s.imbalance);
}

Value stats_value(const InvertedFile& ivf) {
  const IvfStats s = ivf.stats();
  Value v = Value::empty_dict();
  v.set("images", Value(s.images_with_words));
  v.set("entries", Value(s.entries));
  v.set("vectors_per_image", Value(s.vectors_per_image));
  v.set("words", Value(s.words));
  v.set("empty_words", Value(s.empty_words));
  v.set("imbalance", Value(s.imbalance));
  v.set("binary", Value(ivf.binary()));
  return v;
}

}  // namespace

int run_build_index(const std::vector<std::string>& args) {
  ArgParser parser(
      "build-index",
      "Quantizes database features (build_ivf.quantize.multiple_assignment words each), "
      "aggregates residuals\nper (image, word), binarizes them (ASMK*) or L2-normalises "
      "them, and writes the inverted file.\nImage i of the features gets id "
      "id-offset + i; --append adds to an existing index.");
  parser.option("--codebook", "FILE", "centroids.npy from mda train-codebook", "", true)
      .option("--features", "PATH", "database features: HOW-layout folder or its vecs.npy", "",
              true)
      .option("--out", "FILE", "index file to write", "", true)
      .flag("--append", "add the images to the index already at --out")
      .option("--id-offset", "N",
              "id of the first image (default: 0, or the index's image count with --append)")
      .config_sections({"build_ivf.", "runtime.threads"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const Codebook codebook = Codebook::load(parser.get("--codebook"));
  const std::string features_path = parser.get("--features");
  const FeatureSet features = read_feature_folder(features_path);
  const std::string out = parser.get("--out");
  const bool binary = config.get_bool("build_ivf.kernel.binary");
  const int ma = static_cast<int>(config.get_int("build_ivf.quantize.multiple_assignment"));
  InvertedFile ivf = parser.flag_set("--append")
                         ? InvertedFile::load(out)
                         : InvertedFile(codebook.k, codebook.dim, binary, codebook.fingerprint);
  if (ivf.fingerprint() != codebook.fingerprint)
    fail(out, ": was built with another codebook than ", parser.get("--codebook"));
  if (ivf.binary() != binary)
    fail(out, ": binary = ", ivf.binary(), " but build_ivf.kernel.binary = ", binary);
  const int64_t offset = parser.has("--id-offset") ? parser.get_int("--id-offset") : ivf.images();
  const int threads = resolve_threads(config);
  Progress progress("index", features.images, "img");
  for (int64_t i = 0; i < features.images; ++i) {
    const AggregatedImage image =
        codebook.encode(features.image_descriptors(i), features.count(i), features.dim, ma, binary,
                        threads, features_path + " image " + features.image_name(i));
    ivf.add(offset + i, image);
    progress.advance();
  }
  progress.finish();
  ivf.finalize();
  ivf.save(out);
  report_stats(ivf, out);
  write_json(out + ".stats.json", stats_value(ivf));
  config.save(sidecar_config_path(out));
  return 0;
}

int run_merge_index(const std::vector<std::string>& args) {
  ArgParser parser("merge-index",
                   "Merges inverted files built from disjoint shards (same codebook) into one; an "
                   "image id present\nin two inputs is an error.");
  parser.repeated("--index", "FILE", "an index to merge (give two or more)")
      .option("--out", "FILE", "merged index", "", true);
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  setup_command(parser);
  const std::vector<std::string> inputs = parser.all("--index");
  if (inputs.size() < 2) throw UsageError("mda merge-index: give at least two --index files");
  InvertedFile merged = InvertedFile::load(inputs[0]);
  for (size_t i = 1; i < inputs.size(); ++i) merged.merge(InvertedFile::load(inputs[i]), inputs[i]);
  const std::string out = parser.get("--out");
  merged.save(out);
  report_stats(merged, out);
  write_json(out + ".stats.json", stats_value(merged));
  return 0;
}

}  // namespace mda
