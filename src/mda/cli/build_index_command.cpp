// mda build-index / mda merge-index: the ASMK inverted file of a database.
#include <cstdio>
#include <optional>

#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/asmk/matrix.h"
#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/features/feature_folder.h"
#include "mda/index.h"
#include "mda/io/json.h"
#include "mda/sharded_index.h"
#include "mda/util/collective.h"
#include "mda/util/file_lock.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"
#include "mda/util/strings.h"

namespace mda {

namespace {

void report_stats(const IndexStatistics& s, const std::string& path) {
  log_info(path, ": ", s.images, " images, ", s.entries, " entries, ", s.vectors_per_image,
           " vectors per image, ", s.empty_words, " of ", s.words, " words empty, imbalance ",
           s.imbalance);
}

Value stats_value(const IndexStatistics& s) {
  Value v = Value::empty_dict();
  v.set("images", Value(s.images));
  v.set("entries", Value(s.entries));
  v.set("vectors_per_image", Value(s.vectors_per_image));
  v.set("words", Value(s.words));
  v.set("empty_words", Value(s.empty_words));
  v.set("imbalance", Value(s.imbalance));
  v.set("binary", Value(s.binary));
  return v;
}

void check_dimension(const FeatureSet& features, const std::string& features_path,
                     const Codebook& codebook, const std::string& codebook_path) {
  if (features.dim != codebook.dim) {
    fail(features_path, ": descriptors are ", features.dim, "-d, the codebook's words are ",
         codebook.dim, "-d (", codebook_path, ")");
  }
}

// What both ways of building read: the codebook, the features (of its dimension) and the build
// options.
struct BuildInputs {
  Codebook codebook;
  FeatureSet features;
  IndexOptions options;
  int threads = 1;
};

// The index must not be written over the codebook or a file of the features.
void refuse_index_over_inputs(const std::string& codebook_path, const std::string& features_path,
                              const std::string& out) {
  std::vector<std::string> inputs = feature_folder_files(features_path);
  inputs.push_back(codebook_path);
  refuse_output_over_input(out, inputs);
}

BuildInputs load_build_inputs(const Config& config, const std::string& codebook_path,
                              const std::string& features_path) {
  BuildInputs in;
  in.codebook = Codebook::load(codebook_path);
  in.features = read_feature_folder(features_path);
  check_dimension(in.features, features_path, in.codebook, codebook_path);
  log_matrix_kernel();
  in.options = index_options_from_config(config);
  in.threads = resolve_threads(config);
  return in;
}

// Statistics of the file just written, as any reader of it will see them.
void write_stats(const std::string& path) {
  const IndexStatistics s = Index::open(path).statistics();
  report_stats(s, path);
  write_json(path + ".stats.json", stats_value(s));
}

// `mpirun -np K mda build-index`: rank r indexes its contiguous block of the images into shard r
// (an ordinary index file of that block), rank 0 writes the manifest naming the shards at `out`
// (mda search and ShardedIndex read it), or with `merge` one index file there, the shards folded
// into it and removed. Either way the rankings and scores equal one process's index.
void build_index_on_ranks(Collective& ranks, const Config& config, const std::string& codebook_path,
                          const std::string& features_path, const std::string& out, bool merge) {
  refuse_index_over_inputs(codebook_path, features_path, out);
  std::optional<FileLock> lock;
  run_on_every_rank(ranks, [&] {
    if (ranks.rank() == 0) lock.emplace(out);
  });
  const BuildInputs in = load_build_inputs(config, codebook_path, features_path);
  const FeatureSet& features = in.features;
  const int shards = ranks.size();
  // With merge the shards and their manifest are steps on the way to `out`.
  const std::string manifest_path = merge ? out + ".manifest" : out;
  const IndexManifest manifest =
      plan_index_shards(manifest_path, features.images, in.codebook.fingerprint, shards);
  run_on_every_rank(ranks, [&] {
    std::vector<std::string> names;
    for (int64_t i = 0; i < features.images; ++i)
      names.push_back(features.names.empty() ? std::to_string(i) : features.image_name(i));
    const IndexShard& mine = manifest.shards[static_cast<size_t>(ranks.rank())];
    Progress progress(cat("index rank ", ranks.rank(), "/", shards), mine.images, "img");
    int64_t reported = 0;
    build_index_shard(manifest_path, manifest, ranks.rank(), in.codebook, in.options,
                      descriptor_batch(features), names, in.threads, [&](int64_t done, int64_t) {
                        progress.advance(done - reported);
                        reported = done;
                      });
    progress.finish();
    log_info("wrote shard ", mine.file, ": images ", mine.first, "..",
             mine.first + mine.images - 1);
  });
  run_on_every_rank(ranks, [&] {
    if (ranks.rank() != 0) return;
    write_index_manifest(manifest_path, manifest);
    if (merge) {
      merge_index_shards(manifest_path, out);
      for (const IndexShard& shard : manifest.shards)
        std::remove(join_path(parent_dir(manifest_path), shard.file).c_str());
      std::remove(manifest_path.c_str());
      write_stats(out);
    } else {
      log_info("wrote ", out, ": a manifest of ", shards, " shards, ", manifest.images, " images");
    }
    config.save(sidecar_config_path(out));
  });
}

}  // namespace

int run_build_index(const std::vector<std::string>& args) {
  ArgParser parser(
      "build-index",
      "Quantizes database features (build_ivf.quantize.multiple_assignment words each), "
      "aggregates residuals\nper (image, word), binarizes them (ASMK*) or L2-normalises "
      "them, and writes the inverted file\nwith the codebook and the images' names in it "
      "(mda search needs nothing else). --append adds\nto an existing index; --id-offset "
      "writes a shard of a larger index for mda merge-index.");
  parser.option("--codebook", "FILE", "centroids.npy from mda train-codebook", "", true)
      .option("--features", "PATH", "database features: HOW-layout folder or its vecs.npy", "",
              true)
      .option("--out", "FILE", "index file to write", "", true)
      .flag("--append", "add the images to the index already at --out")
      .option("--id-offset", "N",
              "write a shard whose first image has id N (ids below N stay empty; see "
              "merge-index)")
      .flag("--merge",
            "under mpirun: write one index file at --out instead of one shard per rank and a "
            "manifest")
      .config_sections({"build_ivf.", "runtime.threads"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const std::string codebook_path = parser.get("--codebook");
  const std::string features_path = parser.get("--features");
  const std::string out = parser.get("--out");
  const bool append = parser.flag_set("--append");
  Collective& ranks = job();
  if (ranks.size() > 1) {
    if (append || parser.has("--id-offset")) {
      throw UsageError(
          "mda build-index: under mpirun the ranks write a new sharded index; --append and "
          "--id-offset are for one process");
    }
    build_index_on_ranks(ranks, config, codebook_path, features_path, out,
                         parser.flag_set("--merge"));
    return 0;
  }
  if (parser.flag_set("--merge"))
    throw UsageError(
        "mda build-index: --merge joins the shards of an mpirun job; there is one process");
  if (!parser.has("--id-offset")) {
    build_index_stage(config, codebook_path, features_path, out, append);
    return 0;
  }
  if (append) throw UsageError("mda build-index: --id-offset writes a new shard; drop --append");
  const int64_t offset = parser.get_int("--id-offset");
  if (offset < 0)
    throw UsageError(cat("mda build-index: --id-offset must be >= 0, found ", offset));
  refuse_index_over_inputs(codebook_path, features_path, out);
  const FileLock lock(out);
  const BuildInputs in = load_build_inputs(config, codebook_path, features_path);
  const Codebook& codebook = in.codebook;
  const FeatureSet& features = in.features;
  const IndexOptions& options = in.options;
  const int threads = in.threads;
  InvertedFile ivf(codebook.k, codebook.dim, options.binary, codebook.fingerprint);
  ivf.set_centroids(codebook.centroids);
  ivf.set_multiple_assignment(options.multiple_assignment);
  std::vector<DescriptorRange> ranges;
  for (int64_t i = 0; i < features.images; ++i)
    ranges.push_back({features.image_descriptors(i), features.count(i), features.dim});
  std::vector<AggregatedImage> encoded;
  {
    Progress progress("index", features.images, "img");
    int64_t reported = 0;
    encoded = encode_images(
        codebook, ranges, options.multiple_assignment, options.binary, threads,
        [&](size_t i) { return features_path + " image " + features.image_name(i); },
        [&](int64_t done, int64_t) {
          progress.advance(done - reported);
          reported = done;
        });
  }
  for (int64_t i = 0; i < features.images; ++i) {
    ivf.add(offset + i, encoded[static_cast<size_t>(i)],
            features.names.empty() ? std::to_string(offset + i) : features.image_name(i));
  }
  ivf.finalize();
  ivf.save(out);
  write_stats(out);
  config.save(sidecar_config_path(out));
  return 0;
}

void build_index_stage(const Config& config, const std::string& codebook_path,
                       const std::string& features_path, const std::string& out, bool append) {
  // One writer of the index at a time: an append reads, changes and rewrites the whole file.
  refuse_index_over_inputs(codebook_path, features_path, out);
  const FileLock lock(out);
  const BuildInputs in = load_build_inputs(config, codebook_path, features_path);
  const Codebook& codebook = in.codebook;
  const FeatureSet& features = in.features;
  const IndexOptions& options = in.options;
  const int threads = in.threads;
  Index index = append ? Index::open(out) : Index(codebook, options);
  if (index.codebook().fingerprint != codebook.fingerprint)
    fail(out, ": was built with another codebook than ", codebook_path);
  if (index.options().binary != options.binary) {
    fail(out, ": binary = ", index.options().binary,
         " but build_ivf.kernel.binary = ", options.binary);
  }
  if (index.options().multiple_assignment != options.multiple_assignment) {
    fail(out, ": was built with multiple_assignment ", index.options().multiple_assignment,
         " but build_ivf.quantize.multiple_assignment = ", options.multiple_assignment,
         "; one index holds one encoding");
  }
  // Images without names (no images.txt) are named by their position in the index.
  std::vector<std::string> names;
  for (int64_t i = 0; i < features.images; ++i) {
    names.push_back(features.names.empty() ? std::to_string(index.size() + i)
                                           : features.image_name(i));
  }
  const DescriptorBatch batch = descriptor_batch(features);
  {
    Progress progress("index", features.images, "img");
    int64_t reported = 0;
    index.add(batch, names, threads, [&](int64_t done, int64_t) {
      progress.advance(done - reported);
      reported = done;
    });
  }
  index.save(out);
  const IndexStatistics s = index.statistics();
  report_stats(s, out);
  write_json(out + ".stats.json", stats_value(s));
  config.save(sidecar_config_path(out));
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
  refuse_output_over_input(parser.get("--out"), inputs);
  InvertedFile merged = InvertedFile::load(inputs[0]);
  for (size_t i = 1; i < inputs.size(); ++i) merged.merge(InvertedFile::load(inputs[i]), inputs[i]);
  const std::string out = parser.get("--out");
  merged.save(out);
  write_stats(out);
  return 0;
}

}  // namespace mda
