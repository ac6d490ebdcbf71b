// mda search: ASMK* scores of query features against an inverted file, as rankings.
#include <optional>

#include "mda/asmk/matrix.h"
#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/codebook.h"
#include "mda/extractor.h"
#include "mda/features/feature_folder.h"
#include "mda/index.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/sharded_index.h"
#include "mda/util/collective.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"
#include "mda/util/strings.h"

#ifdef MDA_HAVE_TORCH
#include "mda/net/feature_extraction.h"
#endif

namespace mda {
namespace {

void search_features(const Config& config, const SearchStage& stage, const FeatureSet& queries,
                     const std::string& features_path);

}  // namespace

int run_search(const std::vector<std::string>& args) {
  ArgParser parser(
      "search",
      "Scores every database image for every query with the ASMK kernel (similarity "
      "1 - 2h/B, threshold tau,\npower alpha, normalised by the square roots of both "
      "images' word counts) and writes OUTDIR/ranks.npy\n(database images x queries, best "
      "first, ties to the lower index), OUTDIR/scores.npy (the same shape,\nscores in rank "
      "order), OUTDIR/pairs.txt ('query database-index score database-name' lines) and\n"
      "OUTDIR/results.json (per query its name and the named results).");
  parser.option("--index", "FILE", "index file from mda build-index (holds its codebook)", "", true)
      .option("--codebook", "FILE",
              "the centroids.npy the index was built with (optional: checked against the index)")
      .option("--features", "PATH", "query features: HOW-layout folder or its vecs.npy")
      .option("--model", "FILE",
              "instead of --features: extract the queries' features with this model file "
              "(evaluation.* settings; needs libtorch)")
      .option("--images", "FILE", "with --model: query image list (one path per line)")
      .option("--data-root", "DIR", "with --model: Revisited-layout data root (with --dataset)")
      .option("--dataset", "NAME",
              "with --model: dataset whose images to use (its queries are cropped to bbx)")
      .option("--split", "db|queries", "with --model and --dataset: which images", "queries")
      .option("--device", "cpu|cuda", "with --model: where the network runs", "cpu")
      .option("--out", "DIR", "output folder", "", true)
      .option("--topk", "K",
              "rank only the best K images per query (default: query_ivf.search.topk, null = all)")
      .option("--pairs-topk", "K", "pairs.txt lines and results.json entries per query", "100")
      .config_sections({"query_ivf.", "build_ivf.ivf.use_idf", "runtime.threads",
                        "evaluation.image_size", "evaluation.scales", "evaluation.features_num",
                        "evaluation.selection", "evaluation.precision", "evaluation.batch_size",
                        "runtime.decode_threads", "runtime.on_bad_image"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  if (parser.has("--features") == parser.has("--model"))
    throw UsageError("mda search: give either --features PATH or --model FILE with query images");
  const bool from_images = parser.has("--model");
  if (!from_images && (parser.has("--images") || parser.has("--data-root")))
    throw UsageError("mda search: --images and --data-root go with --model, not --features");
#ifndef MDA_HAVE_TORCH
  if (from_images) {
    throw UsageError(
        "mda search: --model (features computed from images) needs the network code, and this "
        "mda was built without libtorch; give --features instead");
  }
#endif
  SearchStage stage;
  stage.index = parser.get("--index");
  stage.codebook = parser.get("--codebook");
  stage.features = parser.get("--features");
  stage.out = parser.get("--out");
  if (parser.has("--topk")) {
    stage.topk = parser.get_int("--topk");
    if (stage.topk < 1)
      throw UsageError(cat("mda search: --topk must be positive, found ", stage.topk));
  }
  stage.pairs_topk = parser.get_int("--pairs-topk");
  if (stage.pairs_topk < 0) {
    throw UsageError(
        cat("mda search: --pairs-topk must be 0 or positive, found ", stage.pairs_topk));
  }
  if (!from_images) {
    search_stage(config, stage);
    return 0;
  }
#ifdef MDA_HAVE_TORCH
  // Queries from images: extracted here, searched from memory. The list (a dataset's queries
  // cropped to their boxes, or an image list) is the network library's, as for mda extract.
  const std::vector<ExtractionItem> items = selected_items(image_selection(parser), "search");
  ExtractionOptions extraction = extraction_options_from_config(config);
  extraction.threads = resolve_threads(config);
  const Extractor extractor(parser.get("--model"), extraction, parser.get("--device"));
  std::vector<LocalFeatures> features;
  std::vector<std::string> names;
  Progress progress("extract queries", static_cast<int64_t>(items.size()), "img");
  for (const ExtractionItem& item : items) {
    std::optional<BoundingBox> box;
    if (item.crop) box = BoundingBox{item.box[0], item.box[1], item.box[2], item.box[3]};
    features.push_back(extractor.extract(item.path, box));
    names.push_back(item.name);
    progress.advance();
  }
  progress.finish();
  search_features(config, stage, make_feature_set(std::move(names), features),
                  parser.get("--model") + " features");
#endif
  return 0;
}

void search_stage(const Config& config, const SearchStage& stage) {
  search_features(config, stage, read_feature_folder(stage.features), stage.features);
}

namespace {

void search_features(const Config& config, const SearchStage& stage, const FeatureSet& queries,
                     const std::string& features_path) {
  log_matrix_kernel();
  SearchOptions options = search_options_from_config(config);
  if (stage.topk > 0) options.topk = stage.topk;
  const int64_t pairs_limit = stage.pairs_topk;
  const std::string& index_path = stage.index;
  const int64_t n_q = queries.images;
  const DescriptorBatch batch = descriptor_batch(queries);
  SearchTimings timings;
  // A manifest (mpirun build-index) is searched shard by shard: under mpirun each rank takes its
  // shards and rank 0 merges the ranks' lists; an index file is searched whole by rank 0.
  Collective& rank_job = job();
  const bool sharded = is_index_manifest(index_path);
  if (!sharded && rank_job.size() > 1 && rank_job.rank() == 0) {
    log_warning(index_path,
                " is one index file: rank 0 searches it alone (build-index under "
                "mpirun writes shards that every rank can search)");
  }
  const auto check_codebook = [&](const Codebook& codebook) {
    if (!stage.codebook.empty() &&
        Codebook::load(stage.codebook).fingerprint != codebook.fingerprint) {
      fail(index_path, ": was built with another codebook than ", stage.codebook);
    }
    if (queries.dim != codebook.dim) {
      fail(features_path, ": descriptors are ", queries.dim, "-d, the codebook's words are ",
           codebook.dim, "-d (", index_path, ")");
    }
  };
  // An index file gives positions and scores (and its names); shards give named hits, merged.
  SearchRanking ranking;
  std::vector<std::string> names;
  std::vector<std::vector<SearchHit>> hits;
  run_on_every_rank(rank_job, [&] {
    if (!sharded && rank_job.rank() != 0) return;
    Progress progress("search", n_q, "query");
    int64_t shown = 0;  // a sharded search reports (query, shard) pairs done
    const ProgressCallback advance = [&](int64_t done, int64_t total) {
      const int64_t now = done * n_q / std::max<int64_t>(total, 1);
      progress.advance(now - shown);
      shown = now;
    };
    if (!sharded) {
      const Index index = Index::open(index_path);
      check_codebook(index.codebook());
      ranking = index.rank(batch, options, &timings, advance);
      if (pairs_limit > 0) names = index.names();  // a million strings on a large index
      return;
    }
    const ShardedIndex index = ShardedIndex::open(index_path, rank_job.rank(), rank_job.size());
    if (index.held_shards() > 0) check_codebook(index.codebook());
    hits = index.search(batch, options, &timings, advance);
  });
  if (sharded && rank_job.size() > 1) {
    const std::vector<std::string> parts = rank_job.all_gather(ShardedIndex::serialize(hits));
    if (rank_job.rank() != 0) return;
    std::vector<std::vector<std::vector<SearchHit>>> lists;
    for (const std::string& part : parts) lists.push_back(ShardedIndex::deserialize(part));
    hits = ShardedIndex::merge(lists, options.topk);
  }
  if (rank_job.rank() != 0) return;
  if (sharded) {
    ranking.queries = n_q;
    ranking.topk = n_q > 0 ? static_cast<int64_t>(hits[0].size()) : 0;
    for (const std::vector<SearchHit>& list : hits) {
      for (const SearchHit& hit : list) {
        ranking.images.push_back(hit.index);
        ranking.scores.push_back(hit.score);
      }
    }
  }
  const int64_t topk = ranking.topk;
  const auto at = [&](int64_t q, int64_t r) { return static_cast<size_t>(q * topk + r); };
  const auto name_at = [&](int64_t q, int64_t r) -> const std::string& {
    if (sharded) return hits[static_cast<size_t>(q)][static_cast<size_t>(r)].name;
    return names[static_cast<size_t>(ranking.images[at(q, r)])];
  };
  // ranks.npy and scores.npy in revisitop's orientation: database rank x query.
  std::vector<int64_t> ranks(static_cast<size_t>(topk * n_q));
  std::vector<float> ranked_scores(ranks.size());
  for (int64_t r = 0; r < topk; ++r) {
    for (int64_t q = 0; q < n_q; ++q) {
      ranks[static_cast<size_t>(r * n_q + q)] = ranking.images[at(q, r)];
      ranked_scores[static_cast<size_t>(r * n_q + q)] = ranking.scores[at(q, r)];
    }
  }

  const std::string& out = stage.out;
  make_dirs(out);
  write_npy(join_path(out, "ranks.npy"), NdArray::from_vector(ranks, {topk, n_q}));
  write_npy(join_path(out, "scores.npy"), NdArray::from_vector(ranked_scores, {topk, n_q}));
  const int64_t pairs_topk = std::min<int64_t>(topk, pairs_limit);
  write_file_atomic(join_path(out, "pairs.txt"), [&](std::ostream& stream) {
    for (int64_t q = 0; q < n_q; ++q) {
      for (int64_t r = 0; r < pairs_topk; ++r) {
        stream << queries.image_name(q) << ' ' << ranking.images[at(q, r)] << ' '
               << ranking.scores[at(q, r)] << ' ' << name_at(q, r) << '\n';
      }
    }
  });
  Value::List per_query;
  for (int64_t q = 0; q < n_q; ++q) {
    Value::List results;
    for (int64_t r = 0; r < pairs_topk; ++r) {
      Value result = Value::empty_dict();
      result.set("name", Value(name_at(q, r)));
      result.set("index", Value(ranking.images[at(q, r)]));
      result.set("score", Value(static_cast<double>(ranking.scores[at(q, r)])));
      results.push_back(std::move(result));
    }
    Value query = Value::empty_dict();
    query.set("query", Value(queries.image_name(q)));
    query.set("results", Value(std::move(results)));
    per_query.push_back(std::move(query));
  }
  Value results = Value::empty_dict();
  results.set("index", Value(index_path));
  results.set("queries", Value(std::move(per_query)));
  write_json(join_path(out, "results.json"), results);
  config.save(join_path(out, "search.config.yaml"));
  // Wall-clock seconds per query of each step (the scan over `threads` threads, ranking included).
  const double per = 1.0 / static_cast<double>(std::max<int64_t>(n_q, 1));
  Value per_query_timings = Value::empty_dict();
  per_query_timings.set("quantize", Value(timings.quantize * per));
  per_query_timings.set("aggregate", Value(timings.aggregate * per));
  per_query_timings.set("scan_and_rank", Value(timings.scan * per));
  per_query_timings.set("threads", Value(static_cast<int64_t>(options.threads)));
  write_json(join_path(out, "timings.json"), per_query_timings);
  log_info("seconds per query: quantize ", timings.quantize * per, ", aggregate ",
           timings.aggregate * per, ", scan and rank ", timings.scan * per);
  log_info("wrote ", join_path(out, "ranks.npy"), " (", topk, " x ", n_q, ")");
}

}  // namespace

}  // namespace mda
