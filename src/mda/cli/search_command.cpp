// mda search: ASMK* scores of query features against an inverted file, as rankings.
#include <chrono>

#include "mda/asmk/asmk_config.h"
#include "mda/asmk/asmk_ranking.h"
#include "mda/asmk/codebook.h"
#include "mda/asmk/inverted_file.h"
#include "mda/cli/command_context.h"
#include "mda/features/feature_folder.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"

namespace mda {

int run_search(const std::vector<std::string>& args) {
  ArgParser parser(
      "search",
      "Scores every database image for every query with the ASMK kernel (similarity "
      "1 - 2h/B, threshold tau,\npower alpha, normalised by the square roots of both "
      "images' word counts) and writes OUTDIR/ranks.npy\n(database images x queries, best "
      "first, ties to the lower index), OUTDIR/scores.npy (the same shape,\nscores in rank "
      "order) and OUTDIR/pairs.txt ('query database score' lines).");
  parser.option("--index", "FILE", "inverted file from mda build-index", "", true)
      .option("--codebook", "FILE", "the centroids.npy the index was built with", "", true)
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
      .option("--pairs-topk", "K", "pairs.txt lines per query", "100")
      .config_sections({"query_ivf.", "build_ivf.ivf.use_idf", "runtime.threads",
                        "evaluation.image_size", "evaluation.scales", "evaluation.features_num",
                        "evaluation.selection", "runtime.decode_threads", "runtime.on_bad_image"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  if (parser.has("--features") == parser.has("--model"))
    throw UsageError("mda search: give either --features PATH or --model FILE with query images");
  const bool from_images = parser.has("--model");
  if (!from_images && (parser.has("--images") || parser.has("--data-root")))
    throw UsageError("mda search: --images and --data-root go with --model, not --features");
  if (from_images) require_image_feature_extractor("search");
  const Codebook codebook = Codebook::load(parser.get("--codebook"));
  const InvertedFile ivf = InvertedFile::load(parser.get("--index"));
  if (ivf.fingerprint() != codebook.fingerprint) {
    fail(parser.get("--index"), ": was built with another codebook than ",
         parser.get("--codebook"));
  }
  const std::string features_path =
      from_images ? parser.get("--model") + " features" : parser.get("--features");
  FeatureSet queries;
  if (from_images) {
    queries = extract_image_features("search", parser.get("--model"), image_selection(parser),
                                     parser.get("--device"), config);
  } else {
    queries = read_feature_folder(features_path);
  }
  const AsmkEvaluationOptions asmk = asmk_options_from_config(config);
  const AsmkSearchParams params = asmk.params;
  const int ma = asmk.query_assignment;
  const int threads = resolve_threads(config);
  const int64_t n_db = ivf.images(), n_q = queries.images;
  int64_t topk = n_db;
  if (parser.has("--topk")) {
    topk = parser.get_int("--topk");
  } else if (!config.at("query_ivf.search.topk").is_null()) {
    topk = config.get_int("query_ivf.search.topk");
  }
  if (topk < 1) fail("topk must be positive, found ", topk);
  topk = std::min(topk, n_db);

  // Encoding uses BLAS (threaded inside); scanning runs one query per thread.
  std::vector<AggregatedImage> encoded;
  EncodeTimings timings;
  {
    Progress progress("quantize queries", n_q, "query");
    for (int64_t q = 0; q < n_q; ++q) {
      encoded.push_back(codebook.encode(
          queries.image_descriptors(q), queries.count(q), queries.dim, ma, ivf.binary(), threads,
          features_path + " query " + queries.image_name(q), &timings));
      progress.advance();
    }
  }
  const auto scan_start = std::chrono::steady_clock::now();
  RankedLists lists;
  {
    Progress progress("search", n_q, "query");
    lists = rank_queries(ivf, encoded, params, topk, threads, &progress);
  }
  const double scan_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_start).count();
  const std::vector<int64_t>& ranks = lists.ranks;
  const std::vector<float>& ranked_scores = lists.scores;

  const std::string out = parser.get("--out");
  make_dirs(out);
  write_npy(join_path(out, "ranks.npy"), NdArray::from_vector(ranks, {topk, n_q}));
  write_npy(join_path(out, "scores.npy"), NdArray::from_vector(ranked_scores, {topk, n_q}));
  const int64_t pairs_topk = std::min<int64_t>(topk, parser.get_int("--pairs-topk"));
  write_file_atomic(join_path(out, "pairs.txt"), [&](std::ostream& stream) {
    for (int64_t q = 0; q < n_q; ++q) {
      for (int64_t r = 0; r < pairs_topk; ++r) {
        stream << queries.image_name(q) << ' ' << ranks[static_cast<size_t>(r * n_q + q)] << ' '
               << ranked_scores[static_cast<size_t>(r * n_q + q)] << '\n';
      }
    }
  });
  config.save(join_path(out, "search.config.yaml"));
  // Wall-clock seconds per query of each step (the scan over `threads` threads, ranking included).
  Value per_query = Value::empty_dict();
  per_query.set("quantize", Value(timings.quantize / static_cast<double>(n_q)));
  per_query.set("aggregate", Value(timings.aggregate / static_cast<double>(n_q)));
  per_query.set("scan_and_rank", Value(scan_seconds / static_cast<double>(n_q)));
  per_query.set("threads", Value(static_cast<int64_t>(threads)));
  write_json(join_path(out, "timings.json"), per_query);
  log_info("seconds per query: quantize ", timings.quantize / n_q, ", aggregate ",
           timings.aggregate / n_q, ", scan and rank ", scan_seconds / n_q);
  log_info("wrote ", join_path(out, "ranks.npy"), " (", topk, " x ", n_q, ")");
  return 0;
}

}  // namespace mda
