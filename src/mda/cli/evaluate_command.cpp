// mda evaluate: Revisited protocol metrics of a ranks.npy against a dataset's ground truth.
#include <iostream>

#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/data/revisited_dataset.h"
#include "mda/eval/evaluation_report.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

int run_evaluate(const std::vector<std::string>& args) {
  ArgParser parser(
      "evaluate",
      "Computes Easy/Medium/Hard mAP and mP@k of a ranking with the Revisited "
      "Oxford/Paris protocol\n(junk removed, trapezoidal AP, queries without positives "
      "skipped).");
  parser
      .option("--data-root", "DIR", "folder holding <dataset>/gnd_<dataset>.pkl (or .json)", "",
              true)
      .option("--dataset", "NAME", "dataset name, e.g. roxford5k", "", true)
      .option("--ranks", "FILE",
              "ranks.npy, integers of shape (database images, queries), best first", "", true)
      .option("--json", "FILE", "also write the metrics (and per-query AP) as JSON here")
      .config_sections({"evaluation.kappas"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  evaluate_stage(config, parser.get("--data-root"), parser.get("--dataset"), parser.get("--ranks"),
                 parser.get("--json"));
  return 0;
}

void evaluate_stage(const Config& config, const std::string& data_root, const std::string& name,
                    const std::string& ranks_path, const std::string& out) {
  if (!out.empty()) refuse_output_over_input(out, {ranks_path});
  const RevisitedDataset dataset = load_revisited_dataset(data_root, name);
  const Ranking ranking =
      ranking_from_array(read_npy(ranks_path), static_cast<int64_t>(dataset.database.size()),
                         static_cast<int64_t>(dataset.queries.size()), ranks_path);
  const Evaluation evaluation =
      evaluate_revisited(ranking, dataset.gnd, config.get_ints("evaluation.kappas"));
  log_info("dataset ", dataset.name, ": ", dataset.queries.size(), " queries, ",
           dataset.database.size(), " database images; ranking ", ranks_path);
  std::cout << format_evaluation_table(evaluation) << std::flush;

  if (!out.empty()) {
    Value report = Value::empty_dict();
    report.set("dataset", Value(dataset.name));
    report.set("ground_truth", Value(dataset.gnd_path));
    report.set("ranks", Value(ranks_path));
    report.set("database_images", Value(static_cast<int64_t>(dataset.database.size())));
    report.set("queries", Value(static_cast<int64_t>(dataset.queries.size())));
    report.set("protocols", evaluation_to_value(evaluation));
    write_json(out, report);
    config.save(sidecar_config_path(out));
    log_info("wrote ", out);
  }
}

}  // namespace mda
