// mda run: the whole evaluation pipeline for a Revisited-format dataset — extract the database and
// the queries, extract the codebook's training features, train the codebook, build the index,
// search, evaluate — with every stage's output cached in the run folder.
#include <chrono>
#include <functional>

#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/io/json.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

int run_run(const std::vector<std::string>& args) {
  ArgParser parser(
      "run",
      "Runs extract (database, queries, codebook images) -> train-codebook -> build-index "
      "-> search -> evaluate\nfor the dataset of the configuration's run section. Each "
      "stage is skipped when its output exists;\nthe run folder keeps the configuration it "
      "was made with, and another configuration there is an error.");
  parser
      .config_sections(
          {"run.", "evaluation.", "train_codebook.", "build_ivf.", "query_ivf.", "runtime."})
      .option("--device", "cpu|cuda", "where the network and the codebook's k-means run", "cpu");
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  Config config = setup_command(parser);
  const std::string data_root = config.get_string("run.data_root");
  const std::string dataset = config.get_string("run.dataset");
  const std::string model = config.get_string("run.model");
  if (data_root.empty() || dataset.empty() || model.empty()) {
    throw UsageError(
        "mda run: set run.data_root, run.dataset and run.model (in --config or with --set)");
  }
  const std::string codebook_dataset = config.get_string("run.codebook_dataset");
  const std::string codebook_images = config.get_string("run.codebook_images");
  if (codebook_dataset.empty() == codebook_images.empty()) {
    throw UsageError("mda run: set exactly one of run.codebook_dataset and run.codebook_images");
  }
  const std::string out = config.get_string("run.out").empty() ? join_path("runs", dataset)
                                                               : config.get_string("run.out");
  make_dirs(out);

  // The run folder's cache is valid only for the configuration that made it.
  const std::string config_path = join_path(out, "run.config.yaml");
  const std::string effective = "# effective mda configuration\n" + config.to_yaml();
  if (file_exists(config_path) && read_file_text(config_path) != effective) {
    fail(out, ": holds results of another configuration (", config_path,
         "); use another run.out or remove the folder");
  }
  write_file_atomic(config_path, effective);

  Value timings = Value::empty_dict();
  const auto stage = [&](const std::string& name, const std::string& output,
                         const std::function<void()>& run_stage) {
    if (file_exists(output)) {
      log_info("[", name, "] cached: ", output);
      return;
    }
    log_info("[", name, "] ...");
    const auto start = std::chrono::steady_clock::now();
    try {
      run_stage();
    } catch (const std::exception& error) {
      fail("stage ", name, " failed: ", error.what());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timings.set(name, Value(seconds));
    log_info("[", name, "] done in ", format_duration(seconds));
  };
  const std::string features = join_path(out, "features");
  const std::string device = parser.get("--device");
  const auto extract = [&](const Config& stage_config, const ImageSelection& images,
                           const std::string& folder) {
    ExtractStage extraction;
    extraction.model = model;
    extraction.out = folder;
    extraction.device = device;
    extraction.images = images;
    extract_stage(stage_config, extraction);
  };
  stage("extract database", join_path(features, "db/vecs.npy"), [&] {
    extract(config, {"", data_root, dataset, "db"}, join_path(features, "db"));
  });
  stage("extract queries", join_path(features, "queries/vecs.npy"), [&] {
    extract(config, {"", data_root, dataset, "queries"}, join_path(features, "queries"));
  });
  stage("extract codebook images", join_path(features, "codebook/vecs.npy"), [&] {
    // HOW trains its codebook on features of scale 1 only (run.codebook_scales).
    Config codebook_config = config;
    codebook_config.set_override("evaluation.scales=" +
                                 to_json(config.at("run.codebook_scales"), -1));
    const ImageSelection images = codebook_dataset.empty()
                                      ? ImageSelection{codebook_images, "", "", "db"}
                                      : ImageSelection{"", data_root, codebook_dataset, "db"};
    extract(codebook_config, images, join_path(features, "codebook"));
  });
  const std::string centroids = join_path(out, "codebook/centroids.npy");
  stage("train codebook", centroids,
        [&] { train_codebook_stage(config, join_path(features, "codebook"), centroids, device); });
  const std::string index = join_path(out, "index/db.ivf");
  stage("build index", index, [&] {
    build_index_stage(config, centroids, join_path(features, "db"), index, /*append=*/false);
  });
  const std::string search = join_path(out, "search");
  stage("search", join_path(search, "ranks.npy"), [&] {
    SearchStage query;
    query.index = index;
    query.features = join_path(features, "queries");
    query.out = search;
    search_stage(config, query);
  });
  evaluate_stage(config, data_root, dataset, join_path(search, "ranks.npy"),
                 join_path(out, "metrics.json"));
  if (!timings.as_dict().empty()) write_json(join_path(out, "timings.json"), timings);
  return 0;
}

}  // namespace mda
