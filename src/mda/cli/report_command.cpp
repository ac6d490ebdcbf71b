// mda report: the visual report of a run as one self-contained HTML page.
#include "mda/cli/command_context.h"
#include "mda/data/revisited_dataset.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/report/report_writer.h"
#include "mda/util/fs.h"

namespace mda {

int run_report(const std::vector<std::string>& args) {
  ArgParser parser(
      "report",
      "Writes a self-contained HTML page: each query's top results (positive / junk / "
      "negative marked),\neach head's attention map and the kept local features of chosen "
      "images (with --model), training\ncurves (with --training), the configuration and "
      "timings.");
  parser.option("--data-root", "DIR", "Revisited-layout data root", "", true)
      .option("--dataset", "NAME", "the evaluated dataset", "", true)
      .option("--ranks", "FILE", "ranks.npy of mda search (database x queries)", "", true)
      .option("--out", "FILE", "the HTML page to write", "report.html")
      .option("--model", "FILE", "model file: adds the attention maps and local features")
      .repeated("--image", "NAME", "database image shown with its attention (default: the first)")
      .option("--training", "DIR", "mda train output folder: adds the training curves")
      .option("--timings", "FILE", "a JSON file of timings to show (e.g. search/timings.json)")
      .option("--queries", "N", "queries shown", "20")
      .option("--topk", "K", "results shown per query", "8")
      .config_sections({"evaluation.image_size", "evaluation.scales", "evaluation.features_num",
                        "evaluation.selection"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const RevisitedDataset dataset =
      load_revisited_dataset(parser.get("--data-root"), parser.get("--dataset"));
  ReportRequest request;
  request.title = "mda report: " + dataset.name;
  request.dataset = &dataset;
  request.ranking = ranking_from_array(
      read_npy(parser.get("--ranks")), static_cast<int64_t>(dataset.database.size()),
      static_cast<int64_t>(dataset.queries.size()), parser.get("--ranks"));
  if (parser.has("--model")) request.model = parser.get("--model");
  request.attention_images = parser.all("--image");
  request.image_size = static_cast<int>(config.get_int("evaluation.image_size"));
  request.scales = config.get_doubles("evaluation.scales");
  request.features_num = config.get_int("evaluation.features_num");
  request.selection =
      parse_head_selection(config.get_string("evaluation.selection"), "evaluation.selection");
  if (parser.has("--training")) request.training_folder = parser.get("--training");
  if (parser.has("--timings")) request.timings = read_json(parser.get("--timings"));
  request.configuration = "# report\n" + config.to_yaml();
  request.queries = parser.get_int("--queries");
  request.topk = parser.get_int("--topk");
  if (request.queries < 1 || request.topk < 1)
    throw UsageError("mda report: --queries and --topk must be at least 1");
  write_report(parser.get("--out"), request);
  return 0;
}

}  // namespace mda
