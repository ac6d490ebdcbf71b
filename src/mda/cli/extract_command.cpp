// mda extract: multi-scale local features of a dataset's database or queries, or of an image list,
// into a feature folder in HOW's .npy layout (docs/formats.md).
//
// The parts, shards and resumption are the network library's (net/feature_folder_extraction.h).
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <tuple>

#include "mda/cli/command_context.h"
#include "mda/cli/stages.h"
#include "mda/features/head_counts.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/feature_folder_extraction.h"
#include "mda/net/model_file.h"
#include "mda/util/collective.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

std::pair<int64_t, int64_t> parse_shard(const std::string& text) {
  const std::vector<std::string> parts = split(text, '/');
  long long k = -1, n = 0;
  if (parts.size() != 2 || !parse_int(parts[0], k) || !parse_int(parts[1], n) || n < 1 || k < 0 ||
      k >= n) {
    throw UsageError(cat("mda extract: --shard expects k/N with 0 <= k < N, found '", text, "'"));
  }
  return {k, n};
}

// This run's shard of the parts, with a progress bar over the images it still has to extract.
FolderExtractionResult extract_shard(MdaNetImpl& net, const std::vector<ExtractionItem>& items,
                                     const std::string& out, ExtractionSettings& settings,
                                     const FolderExtractionOptions& parts) {
  Progress progress(cat("extract shard ", parts.shard, "/", parts.shards),
                    images_to_extract(static_cast<int64_t>(items.size()), out, parts), "img");
  settings.stream.progress = &progress;
  const FolderExtractionResult result = extract_feature_folder(net, items, out, settings, parts);
  progress.finish();
  return result;
}

// The assembled folder's configuration, and what it holds.
void report_assembled(const Config& config, const std::string& out,
                      const FolderExtractionResult& result) {
  config.save(join_path(out, "extract.config.yaml"));
  log_info("wrote ", out, ": ", result.images, " images, ", result.features, " local features");
  log_info("features per head: ", format_head_counts(result.features_per_head));
}

}  // namespace

void extract_stage(const Config& config, const ExtractStage& stage) {
  const std::vector<ExtractionItem> items = selected_items(stage.images, "extract");
  if (items.empty()) fail("nothing to extract");
  Collective& ranks = job();
  torch::Device device = parse_device(stage.device, "extract");
  if (device.is_cuda() && ranks.size() > 1) {
    // One GPU per rank: the ranks of a machine take its devices in turn.
    const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(ranks.local_rank() % gpus));
    log_info("extracting on ", device.str());
  }
  at::set_num_threads(resolve_threads(config));
  ExtractionSettings settings = extraction_settings(config, device);
  MdaNet net = load_model_for_inference(stage.model, device, settings.precision);
  FolderExtractionOptions parts;
  parts.part_size = stage.part_size;
  parts.shard = stage.shard;
  parts.shards = stage.shards;
  parts.model_file = stage.model;
  if (ranks.size() > 1) {
    // `mpirun -np K mda extract`: rank r extracts shard r of K (whole parts, balanced), rank 0
    // records the source first and assembles the folder once every rank has written its parts.
    // A rank that fails keeps the parts it wrote; the others finish theirs, and the job fails
    // naming the rank and its error; a rerun extracts only what is missing.
    if (stage.shards != 1)
      throw UsageError("mda extract: --shard and mpirun both split the list; use one of them");
    parts.shard = ranks.rank();
    parts.shards = ranks.size();
    parts.assemble = false;
    run_on_every_rank(ranks, [&] {
      if (ranks.rank() == 0) record_extraction_source(items, stage.out, settings, stage.model);
    });
    run_on_every_rank(ranks, [&] { extract_shard(*net, items, stage.out, settings, parts); });
    run_on_every_rank(ranks, [&] {
      if (ranks.rank() != 0) return;
      const FolderExtractionResult result =
          assemble_feature_folder(items, stage.out, parts.part_size, net->architecture().heads);
      if (!result.assembled) fail(stage.out, ": ", result.missing_parts, " part(s) are missing");
      report_assembled(config, stage.out, result);
    });
    return;
  }
  const FolderExtractionResult result = extract_shard(*net, items, stage.out, settings, parts);
  if (!result.assembled) {
    log_info("shard ", stage.shard, "/", stage.shards, " done; ", result.missing_parts,
             " part(s) of other shards are still missing");
    return;
  }
  report_assembled(config, stage.out, result);
}

int run_extract(const std::vector<std::string>& args) {
  ArgParser parser(
      "extract",
      "Extracts the top-n local features over the configured scales for every image, "
      "ranked by attention\nover all heads, into a HOW-layout feature folder. Queries of a "
      "Revisited dataset are cropped to their\nbox and resized by the same factor as their "
      "full image. Resumable (parts) and shardable.");
  parser.option("--model", "FILE", "model file (mda import-weights or mda train)", "", true)
      .option("--out", "DIR", "feature folder to write", "", true)
      .option("--data-root", "DIR", "Revisited-layout data root (with --dataset)")
      .option("--dataset", "NAME", "dataset name (with --data-root)")
      .option("--split", "db|queries", "which images of the dataset", "db")
      .option("--images", "FILE", "an image list instead of a dataset (one path per line)")
      .option("--shard", "k/N", "process only the k-th of N contiguous blocks of the list", "0/1")
      .option("--part-size", "N", "images per atomically written part (the unit of resumption)",
              "64")
      .option("--device", "cpu|cuda", "where the network runs", "cpu")
      .config_sections({"evaluation.image_size", "evaluation.scales", "evaluation.features_num",
                        "evaluation.selection", "evaluation.precision", "evaluation.batch_size",
                        "runtime."});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  ExtractStage stage;
  stage.model = parser.get("--model");
  stage.out = parser.get("--out");
  stage.device = parser.get("--device");
  stage.images = image_selection(parser);
  std::tie(stage.shard, stage.shards) = parse_shard(parser.get("--shard"));
  stage.part_size = parser.get_int("--part-size");
  if (stage.part_size < 1) {
    throw UsageError(cat("mda extract: --part-size must be positive, found ", stage.part_size));
  }
  extract_stage(config, stage);
  return 0;
}

}  // namespace mda
