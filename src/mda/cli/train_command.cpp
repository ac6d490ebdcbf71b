// mda train: trains an MDA network (or HOW's, with model.attention=l2 and model.heads=1) from a
// training manifest of image-level labels; see src/mda/train/trainer.h for what it writes.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "mda/cli/command_context.h"
#include "mda/data/image_list.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
#include "mda/net/weight_import.h"
#include "mda/train/trainer.h"
#include "mda/train/training_options.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

int run_train(const std::vector<std::string>& args) {
  ArgParser parser(
      "train",
      "Trains the network of the configuration's model section on training.manifest: hard "
      "negatives mined\nevery epoch with the current network, contrastive loss on every head "
      "plus lambda x the diversity\nregulariser, Adam with exponential decay, a checkpoint "
      "after every epoch, validation every k epochs.\nThe starting point is model.pretrained: "
      "a model file (same architecture) or backbone weights\n(.pth, .safetensors, .tflite).");
  parser.flag("--resume", "continue the run in training.out from its last checkpoint")
      .option("--stop-after", "N", "stop after N epochs of this call (0 = train to the end)", "0")
      .option("--device", "cpu|cuda", "where the network trains", "cpu")
      .config_sections({"model.", "training.", "runtime."});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const TrainingOptions options = TrainingOptions::from_config(config);
  if (options.manifest.empty())
    throw UsageError("mda train: set training.manifest (in --config or with --set)");
  const torch::Device device = parse_device(parser.get("--device"), "train");
  const int64_t stop_after = parser.get_int("--stop-after");
  if (stop_after < 0) throw UsageError("mda train: --stop-after must be >= 0");
  at::set_num_threads(resolve_threads(config));

  const TrainingManifest manifest =
      read_training_manifest(options.manifest, options.image_folder, options.image_extension);
  const MdaArchitecture architecture = MdaArchitecture::from_config(config);
  // The heads' random initialisation is part of the seeded run.
  torch::manual_seed(static_cast<uint64_t>(options.seed));
  MdaNet net(architecture);
  const std::string pretrained = config.get_string("model.pretrained");
  if (parser.flag_set("--resume")) {
    // The checkpoint holds every weight.
  } else if (pretrained.empty()) {
    log_warning("model.pretrained is empty: training starts from a randomly initialised backbone");
  } else if (!file_exists(pretrained)) {
    fail("model.pretrained: no such file: ", pretrained);
  } else if (is_model_file(pretrained)) {
    load_model_into(pretrained, *net);
    log_info("starting from model ", pretrained);
  } else {
    const LoadReport report = import_backbone_weights(*net, pretrained);
    log_info("starting from ", report.loaded.size(), " backbone tensors of ", pretrained);
  }
  log_info("training ", architecture.short_name(), " on ", manifest.names.size(), " images of ",
           manifest.label_names.size(), " labels (", options.manifest, ") into ", options.out);

  TrainingRun run;
  run.device = device;
  run.decode_threads = static_cast<int>(config.get_int("runtime.decode_threads"));
  run.resume = parser.flag_set("--resume");
  run.stop_after = stop_after;
  run.config_yaml = "# effective mda configuration\n" + config.to_yaml();
  const TrainingSummary summary = train_mda(net, manifest, options, run);
  if (summary.best_validation_map >= 0) {
    log_info("best validation Medium mAP ", summary.best_validation_map, ": ",
             join_path(options.out, "best.mdam"));
  }
  return 0;
}

}  // namespace mda
