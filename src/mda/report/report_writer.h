// Gathers everything the report shows for one run and writes the page: the queries' top results,
// the attention panel of a chosen image (when a model is given), the training history, the
// configuration and the timings.
#pragma once

#include <string>
#include <vector>

#include "mda/data/revisited_dataset.h"
#include "mda/eval/revisited_eval.h"
#include "mda/features/head_selection.h"
#include "mda/io/value.h"

namespace mda {

struct ReportRequest {
  std::string title = "mda report";
  const RevisitedDataset* dataset = nullptr;
  Ranking ranking;
  std::string model;                          // model file for the attention panel ('' = none)
  std::vector<std::string> attention_images;  // database names ('' = the first database image)
  int image_size = 1024;
  std::vector<double> scales = {1.0};
  int64_t features_num = 1000;
  HeadSelection selection = HeadSelection::kJoint;
  std::string training_folder;  // mda train output (history.json, train.config.yaml), or ''
  std::string configuration;    // extra configuration text
  Value timings;
  int64_t queries = 20, topk = 8;
};

void write_report(const std::string& path, const ReportRequest& request);

}  // namespace mda
