#include "mda/cli/command_context.h"

#include "mda/asmk/matrix.h"

#include "mda/util/allocator_tuning.h"
#include "mda/util/log.h"

namespace mda {

void add_common_options(ArgParser& parser) {
  parser.option("--config", "FILE", "YAML configuration merged over the built-in defaults")
      .repeated("--set", "KEY=VALUE",
                "override one configuration key, e.g. --set evaluation.features_num=500")
      .flag("--quiet", "print only warnings and errors (no progress bars)")
      .flag("--verbose", "print debug messages too")
      .option("--log", "FILE", "append every message, with timestamps, to this file");
}

ImageSelection image_selection(const ArgParser& parser) {
  ImageSelection selection;
  selection.images_list = parser.get("--images");
  selection.data_root = parser.get("--data-root");
  selection.dataset = parser.get("--dataset");
  selection.split = parser.get("--split");
  return selection;
}

Config setup_command(const ArgParser& parser) {
  set_log_quiet(parser.flag_set("--quiet"));
  set_log_verbose(parser.flag_set("--verbose"));
  if (parser.has("--log")) set_log_file(parser.get("--log"));
  if (!allocator_tuning().empty()) log_debug(allocator_tuning());
  Config config;
  if (parser.has("--config")) config.merge_file(parser.get("--config"));
  for (const std::string& assignment : parser.all("--set")) config.set_override(assignment);
  set_matrix_threads(resolve_threads(config));
  return config;
}

DescriptorBatch descriptor_batch(const FeatureSet& features) {
  DescriptorBatch batch;
  batch.descriptors = features.descriptors.data();
  batch.offsets = features.offsets.data();
  batch.images = features.images;
  batch.dim = features.dim;
  return batch;
}

}  // namespace mda
