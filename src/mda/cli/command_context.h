// What every sub-command shares: the common options (--config, --set, --quiet, --verbose, --log)
// and the effective configuration they produce.
#pragma once

#include <string>
#include <vector>

#include "mda/cli/arg_parser.h"
#include "mda/config/config.h"
#include "mda/config/stage_options.h"
#include "mda/data/image_list.h"
#include "mda/features/feature_folder.h"
#include "mda/index.h"

namespace mda {

void add_common_options(ArgParser& parser);
// Applies --quiet/--verbose/--log and builds defaults <- --config <- --set.
Config setup_command(const ArgParser& parser);

// --images, --data-root, --dataset and --split of a command that declares them.
ImageSelection image_selection(const ArgParser& parser);

// "out/metrics.json" -> "out/metrics.config.yaml": where each output's configuration is saved.
std::string sidecar_config_path(const std::string& output_path);

// A feature folder's descriptors as the index API takes them (borrowed from `features`).
DescriptorBatch descriptor_batch(const FeatureSet& features);

// Sub-commands: each returns the process exit status.
int run_evaluate(const std::vector<std::string>& args);
int run_config(const std::vector<std::string>& args);
int run_train_codebook(const std::vector<std::string>& args);
int run_build_index(const std::vector<std::string>& args);
int run_merge_index(const std::vector<std::string>& args);
int run_search(const std::vector<std::string>& args);
int run_synthetic(const std::vector<std::string>& args);
int run_import_weights(const std::vector<std::string>& args);  // needs libtorch
int run_extract(const std::vector<std::string>& args);         // needs libtorch
int run_run(const std::vector<std::string>& args);             // needs libtorch
int run_train(const std::vector<std::string>& args);           // needs libtorch
int run_demo(const std::vector<std::string>& args);            // needs libtorch
int run_report(const std::vector<std::string>& args);          // needs libtorch
int run_serve(const std::vector<std::string>& args);           // needs cpp-httplib

}  // namespace mda
