// mda run: the whole evaluation pipeline for a Revisited-format dataset — extract the database and
// the queries, extract the codebook's training features, train the codebook, build the index,
// search, evaluate — with every stage's output cached in the run folder.
#include <chrono>

#include "mda/cli/command_context.h"
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

  std::vector<std::string> common = {"--config", config_path};
  if (parser.flag_set("--quiet")) common.push_back("--quiet");
  if (parser.flag_set("--verbose")) common.push_back("--verbose");
  Value timings = Value::empty_dict();
  const auto stage = [&](const std::string& name, const std::string& output,
                         int (*command)(const std::vector<std::string>&),
                         std::vector<std::string> stage_args) {
    if (file_exists(output)) {
      log_info("[", name, "] cached: ", output);
      return;
    }
    log_info("[", name, "] ...");
    stage_args.insert(stage_args.end(), common.begin(), common.end());
    const auto start = std::chrono::steady_clock::now();
    const int status = command(stage_args);
    if (status != 0) fail("stage ", name, " failed with status ", status);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    timings.set(name, Value(seconds));
    log_info("[", name, "] done in ", format_duration(seconds));
  };
  const std::string features = join_path(out, "features");
  const std::string device = parser.get("--device");
  stage("extract database", join_path(features, "db/vecs.npy"), run_extract,
        {"--model", model, "--data-root", data_root, "--dataset", dataset, "--split", "db", "--out",
         join_path(features, "db"), "--device", device});
  stage("extract queries", join_path(features, "queries/vecs.npy"), run_extract,
        {"--model", model, "--data-root", data_root, "--dataset", dataset, "--split", "queries",
         "--out", join_path(features, "queries"), "--device", device});
  std::vector<std::string> codebook_source =
      codebook_dataset.empty()
          ? std::vector<std::string>{"--images", codebook_images}
          : std::vector<std::string>{"--data-root", data_root, "--dataset", codebook_dataset};
  std::vector<std::string> codebook_args = {
      "--model",  model,
      "--out",    join_path(features, "codebook"),
      "--device", device,
      "--set",    "evaluation.scales=" + to_json(config.at("run.codebook_scales"), -1)};
  codebook_args.insert(codebook_args.end(), codebook_source.begin(), codebook_source.end());
  stage("extract codebook images", join_path(features, "codebook/vecs.npy"), run_extract,
        codebook_args);
  const std::string centroids = join_path(out, "codebook/centroids.npy");
  stage("train codebook", centroids, run_train_codebook,
        {"--features", join_path(features, "codebook"), "--out", centroids, "--device", device});
  const std::string index = join_path(out, "index/db.ivf");
  stage("build index", index, run_build_index,
        {"--codebook", centroids, "--features", join_path(features, "db"), "--out", index});
  const std::string search = join_path(out, "search");
  stage("search", join_path(search, "ranks.npy"), run_search,
        {"--index", index, "--codebook", centroids, "--features", join_path(features, "queries"),
         "--out", search});
  const std::string metrics = join_path(out, "metrics.json");
  std::vector<std::string> evaluate_args = {
      "--data-root", data_root, "--dataset", dataset, "--ranks", join_path(search, "ranks.npy"),
      "--json",      metrics};
  evaluate_args.insert(evaluate_args.end(), common.begin(), common.end());
  const int status = run_evaluate(evaluate_args);
  if (!timings.as_dict().empty()) write_json(join_path(out, "timings.json"), timings);
  return status;
}

}  // namespace mda
