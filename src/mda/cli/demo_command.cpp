// mda demo: the first thing a newcomer runs. It builds a small procedural dataset in the
// Revisited layout and runs every stage that exists end to end on it.
//
// Until the network, codebook and index stages land, the ranking comes from the thumbnail
// baseline; the demo then says so in its output.
#include <iostream>

#include "mda/cli/command_context.h"
#include "mda/data/synthetic_dataset.h"
#include "mda/eval/evaluation_report.h"
#include "mda/features/thumbnail_descriptor.h"
#include "mda/image/codec.h"
#include "mda/image/image_stream.h"
#include "mda/image/transform.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

namespace {

// Descriptors of the listed images, decoded ahead on threads. Queries are cropped to their box
// first, as the Revisited protocol requires. A skipped (unreadable) image keeps a zero descriptor,
// so it still appears in the ranking, last.
std::vector<std::vector<float>> describe_images(const std::vector<std::string>& paths,
                                                const std::vector<QueryGroundTruth>* crops,
                                                const ImageStreamOptions& options) {
  std::vector<std::vector<float>> descriptors(paths.size(), std::vector<float>(8 * 8 * 3, 0.0f));
  for_each_image(
      paths, options,
      [&](size_t i, const Image& image) { descriptors[i] = thumbnail_descriptor(image); },
      [&](size_t i, Image image) {
        return crops && (*crops)[i].has_bbx ? crop(image, (*crops)[i].bbx) : image;
      });
  return descriptors;
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  ArgParser parser(
      "demo",
      "Builds a small procedural dataset (Revisited layout, ground truth from its "
      "construction) and runs\nthe pipeline on it end to end: images -> descriptors -> "
      "ranking (ranks.npy) -> Easy/Medium/Hard evaluation.");
  parser
      .option("--out", "DIR", "output folder (dataset, rankings, metrics, configuration)",
              "demo_out")
      .option("--objects", "N", "objects in the built-in dataset", "24")
      .option("--seed", "N", "seed of the built-in dataset", "0")
      .config_sections({"runtime.decode_threads", "runtime.on_bad_image", "evaluation.kappas"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  if (!image_codecs_available())
    fail("the demo needs image support: rebuild with libstb-dev installed");

  const std::string out = parser.get("--out");
  SyntheticDatasetOptions options;
  options.objects = static_cast<int>(parser.get_int("--objects"));
  options.distractors = options.objects;
  options.seed = std::stoull(parser.get("--seed"));
  const std::string data_root = join_path(out, "data");
  log_info("building the built-in dataset in ", join_path(data_root, "synthetic"));
  write_synthetic_dataset(data_root, "synthetic", options);
  const RevisitedDataset dataset = load_revisited_dataset(data_root, "synthetic");
  dataset.check_images_exist();

  ImageStreamOptions stream;
  stream.threads = static_cast<int>(config.get_int("runtime.decode_threads"));
  stream.on_bad_image = parse_bad_image_policy(config.get_string("runtime.on_bad_image"));
  std::vector<std::string> db_paths, query_paths;
  for (size_t i = 0; i < dataset.database.size(); ++i) db_paths.push_back(dataset.database_path(i));
  for (size_t i = 0; i < dataset.queries.size(); ++i) query_paths.push_back(dataset.query_path(i));
  stream.label = "database";
  const auto db = describe_images(db_paths, nullptr, stream);
  stream.label = "queries";
  const auto queries = describe_images(query_paths, &dataset.gnd, stream);

  std::vector<float> scores(queries.size() * db.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    for (size_t d = 0; d < db.size(); ++d) {
      float s = 0;
      for (size_t k = 0; k < db[d].size(); ++k) s += queries[q][k] * db[d][k];
      scores[q * db.size() + d] = s;
    }
  }
  const Ranking ranking =
      rank_by_scores(scores, static_cast<int64_t>(queries.size()), static_cast<int64_t>(db.size()));
  const std::string results = join_path(out, "results");
  write_npy(join_path(results, "ranks.npy"),
            NdArray::from_vector(ranking.ranks, {ranking.n_db, ranking.n_queries}));
  const Evaluation evaluation =
      evaluate_revisited(ranking, dataset.gnd, config.get_ints("evaluation.kappas"));
  Value report = Value::empty_dict();
  report.set("method", Value("thumbnail baseline (8x8 colour thumbnail, cosine similarity)"));
  report.set("protocols", evaluation_to_value(evaluation));
  const std::string metrics = join_path(results, "metrics.json");
  write_json(metrics, report);
  config.save(sidecar_config_path(metrics));

  std::cout << "\nBuilt-in dataset: " << dataset.queries.size() << " queries, "
            << dataset.database.size() << " database images (" << data_root << ")\n"
            << "Method: thumbnail baseline (the MDA network, codebook and ASMK* stages are not "
               "built yet)\n\n"
            << format_evaluation_table(evaluation)
            << "\nranking: " << join_path(results, "ranks.npy") << "\nmetrics: " << metrics << "\n";
  return 0;
}

}  // namespace mda
