// mda import-weights: builds an MDA network from the configuration's `model` section, fills its
// backbone with pretrained weights (torchvision .pth, safetensors, TFLite MobileNet) and writes
// a model file.
#include <torch/torch.h>

#include "mda/cli/command_context.h"
#include "mda/net/model_file.h"
#include "mda/net/weight_import.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

int run_import_weights(const std::vector<std::string>& args) {
  ArgParser parser(
      "import-weights",
      "Creates a model file: the architecture of the configuration's model section, its "
      "backbone filled\nfrom pretrained weights, its MDA head initialised at random "
      "(seeded).\nAccepted weights: torchvision state dicts written by torch.save "
      "(.pth/.pt), .safetensors with torchvision\nnames, and TFLite uint8 MobileNets "
      "(.tflite, dequantized).");
  parser
      .option("--weights", "FILE", "pretrained backbone weights (.pth, .pt, .safetensors, .tflite)",
              "", true)
      .option("--out", "FILE", "model file to write", "", true)
      .option("--seed", "N", "seed of the head's random initialisation", "0")
      .config_sections({"model."});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const MdaArchitecture architecture = MdaArchitecture::from_config(config);
  torch::manual_seed(parser.get_int("--seed"));
  MdaNet net(architecture);
  const std::string weights = parser.get("--weights");
  refuse_output_over_input(parser.get("--out"), {weights});
  const LoadReport report = import_backbone_weights(*net, weights);
  log_info("loaded ", report.loaded.size(), " backbone tensors from ", weights);
  if (!report.unexpected.empty()) {
    log_info("left unused ", report.unexpected.size(),
             " tensor(s) of layers the model does not have, e.g. '", report.unexpected[0], "'");
  }
  Value meta = Value::empty_dict();
  meta.set("imported_from", Value(weights));
  meta.set("seed", Value(static_cast<int64_t>(parser.get_int("--seed"))));
  const std::string out = parser.get("--out");
  save_model(out, *net, meta);
  config.save(sidecar_config_path(out));
  log_info("wrote ", out, " (", architecture.short_name(), ", ", net->backbone_channels(),
           " backbone channels)");
  return 0;
}

}  // namespace mda
