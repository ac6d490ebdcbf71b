// What every sub-command shares: the common options (--config, --set, --quiet, --verbose, --log)
// and the effective configuration they produce.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mda/cli/arg_parser.h"
#include "mda/config/config.h"
#include "mda/data/image_list.h"
#include "mda/features/feature_folder.h"

namespace mda {

void add_common_options(ArgParser& parser);
// Applies --quiet/--verbose/--log and builds defaults <- --config <- --set.
Config setup_command(const ArgParser& parser);

// --images, --data-root, --dataset and --split of a command that declares them.
ImageSelection image_selection(const ArgParser& parser);

// Local features of images computed by a model file (evaluation.* settings), for the commands of
// the core library that take images as well as feature folders (search). A build with libtorch
// installs it at start (register_network_backends); without one it is empty.
using ImageFeatureExtractor =
    std::function<FeatureSet(const std::string& model, const ImageSelection& images,
                             const std::string& device, const Config& config)>;
void set_image_feature_extractor(ImageFeatureExtractor extractor);
// Throws a usage error naming `command` where this build has no network code.
void require_image_feature_extractor(const std::string& command);
FeatureSet extract_image_features(const std::string& command, const std::string& model,
                                  const ImageSelection& images, const std::string& device,
                                  const Config& config);

// "out/metrics.json" -> "out/metrics.config.yaml": where each output's configuration is saved.
std::string sidecar_config_path(const std::string& output_path);

// Sub-commands: each returns the process exit status.
int run_evaluate(const std::vector<std::string>& args);
int run_config(const std::vector<std::string>& args);
int run_train_codebook(const std::vector<std::string>& args);
int run_build_index(const std::vector<std::string>& args);
int run_merge_index(const std::vector<std::string>& args);
int run_search(const std::vector<std::string>& args);
int run_synthetic(const std::vector<std::string>& args);
// runtime.threads, with 0 meaning one per core.
int resolve_threads(const Config& config);
int run_import_weights(const std::vector<std::string>& args);  // needs libtorch
int run_extract(const std::vector<std::string>& args);         // needs libtorch
int run_run(const std::vector<std::string>& args);             // needs libtorch
int run_train(const std::vector<std::string>& args);           // needs libtorch
int run_demo(const std::vector<std::string>& args);            // needs libtorch
int run_report(const std::vector<std::string>& args);          // needs libtorch

}  // namespace mda
