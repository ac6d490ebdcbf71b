// mda synthetic: writes the built-in procedural dataset (Revisited layout) plus a training
// manifest of it, so that training, extraction and search can be tried without any download.
#include "mda/cli/command_context.h"
#include "mda/data/synthetic_dataset.h"
#include "mda/image/codec.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"

namespace mda {

int run_synthetic(const std::vector<std::string>& args) {
  ArgParser parser("synthetic",
                   "Writes a procedural retrieval dataset to ROOT/NAME (jpg/, gnd_NAME.json) and "
                   "ROOT/NAME/train.tsv,\na training manifest whose labels are the objects (junk "
                   "views left out). Different seeds give\ndifferent objects: use one for "
                   "training and another for validation.");
  parser.option("--root", "DIR", "data root to write into", "", true)
      .option("--name", "NAME", "dataset name", "synthetic")
      .option("--objects", "N", "objects (and as many distractor scenes)", "24")
      .option("--width", "PX", "image width", "192")
      .option("--height", "PX", "image height", "144")
      .option("--seed", "N", "seed of the construction", "0")
      .option("--occlusion", "F",
              "fraction of each query and positive view's object hidden behind clutter patches "
              "(0 = none; 0.4 makes matches need several object parts)",
              "0");
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  setup_command(parser);
  if (!image_codecs_available()) fail("mda synthetic needs image support (libstb-dev)");
  SyntheticDatasetOptions options;
  options.objects = static_cast<int>(parser.get_int("--objects"));
  options.distractors = options.objects;
  options.width = static_cast<int>(parser.get_int("--width"));
  options.height = static_cast<int>(parser.get_int("--height"));
  const int64_t seed = parser.get_int("--seed");
  if (options.objects < 1 || options.width < 32 || options.height < 32 || seed < 0)
    throw UsageError("mda synthetic: needs --objects >= 1, --width/--height >= 32, --seed >= 0");
  options.seed = static_cast<uint64_t>(seed);
  options.occlusion = parser.get_double("--occlusion");
  if (!(options.occlusion >= 0 && options.occlusion < 1))
    throw UsageError(
        cat("mda synthetic: --occlusion must be in [0, 1), found ", parser.get("--occlusion")));
  const RevisitedDataset dataset =
      write_synthetic_dataset(parser.get("--root"), parser.get("--name"), options);
  const std::string manifest = write_synthetic_training_manifest(dataset);
  log_info("wrote ", dataset.folder, ": ", dataset.queries.size(), " queries, ",
           dataset.database.size(), " database images; training manifest ", manifest);
  return 0;
}

}  // namespace mda
