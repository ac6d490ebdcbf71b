#include "mda/report/report_writer.h"

#include <torch/torch.h>

#include <algorithm>

#include "mda/eval/evaluation_report.h"
#include "mda/image/codec.h"
#include "mda/image/transform.h"
#include "mda/io/json.h"
#include "mda/net/attention_panel.h"
#include "mda/net/model_file.h"
#include "mda/report/html_report.h"
#include "mda/report/report_queries.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

void write_report(const std::string& path, const ReportRequest& request) {
  if (!request.dataset) fail("write_report: no dataset");
  const RevisitedDataset& dataset = *request.dataset;
  ReportInputs inputs;
  inputs.title = request.title;
  inputs.summary_table = format_evaluation_table(evaluate_revisited(request.ranking, dataset.gnd));
  inputs.queries = report_queries(dataset, request.ranking, request.queries, request.topk);
  if (!request.model.empty()) {
    MdaNet net = load_model(request.model);
    std::vector<std::string> names = request.attention_images;
    if (names.empty()) names.push_back(dataset.database.at(0));
    for (const std::string& name : names) {
      const auto it = std::find(dataset.database.begin(), dataset.database.end(), name);
      if (it == dataset.database.end())
        fail("report: '", name, "' is not a database image of ", dataset.name);
      const Image image = resize_max_side(read_image(dataset.image_path(name)), request.image_size);
      inputs.attention.push_back(attention_panel(*net, name, image, request.scales,
                                                 request.features_num, request.selection));
    }
  }
  std::string configuration = request.configuration;
  if (!request.training_folder.empty()) {
    const std::string history = join_path(request.training_folder, "history.json");
    if (!file_exists(history)) fail("report: no training history at ", history);
    inputs.history = read_json(history);
    const std::string config = join_path(request.training_folder, "train.config.yaml");
    if (file_exists(config))
      configuration += "# training (" + config + ")\n" + read_file_text(config);
  }
  inputs.configuration = configuration;
  inputs.timings = request.timings;
  if (!parent_dir(path).empty()) make_dirs(parent_dir(path));
  write_file_atomic(path, render_report_html(inputs));
  log_info("wrote the report ", path);
}

}  // namespace mda
