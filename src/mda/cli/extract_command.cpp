// mda extract: multi-scale local features of a dataset's database or queries, or of an image list,
// into a feature folder in HOW's .npy layout (docs/formats.md).
//
// Work is split in parts of --part-size images, each written atomically under OUT/parts/, so a
// killed run resumes where it stopped, and --shard k/N runs can share the list between processes
// or machines. The run that finds every part present assembles OUT/{vecs,imids,...}.npy.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

#include "mda/cli/command_context.h"
#include "mda/data/image_list.h"
#include "mda/data/revisited_dataset.h"
#include "mda/features/feature_folder.h"
#include "mda/features/head_counts.h"
#include "mda/image/image_stream.h"
#include "mda/io/tensor_archive.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
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

std::string part_path(const std::string& out, int64_t first, int64_t last) {
  char name[64];
  std::snprintf(name, sizeof name, "part-%08lld-%08lld.mdaf", static_cast<long long>(first),
                static_cast<long long>(last));
  return join_path(join_path(out, "parts"), name);
}

void write_part(const std::string& path, const std::vector<LocalFeatures>& features) {
  TensorArchive archive;
  archive.kind = "mda-features-part";
  Value::List counts;
  for (const LocalFeatures& f : features) counts.emplace_back(f.count());
  archive.meta.set("counts", Value(std::move(counts)));
  archive.meta.set("dim", Value(features.empty() ? int64_t{0} : features[0].dim));
  archive.tensors = how_layout_arrays(features);
  write_tensor_archive(path, archive);
}

std::vector<LocalFeatures> read_part(const std::string& path) {
  const TensorArchive archive = read_tensor_archive(path, "mda-features-part");
  const std::vector<int64_t> counts = archive.meta.find("counts")->to_int_vector();
  const int64_t dim = archive.meta.find("dim")->as_int();
  const std::vector<float> vecs = archive.find("vecs")->to_float();
  const std::vector<float> strengths = archive.find("strengths")->to_float();
  const std::vector<float> scales = archive.find("scales")->to_float();
  const std::vector<int64_t> heads = archive.find("heads")->to_int64();
  const std::vector<int64_t> locs = archive.find("locs")->to_int64();
  std::vector<LocalFeatures> out;
  size_t at = 0;
  for (int64_t count : counts) {
    LocalFeatures f;
    f.dim = dim;
    for (int64_t i = 0; i < count; ++i, ++at) {
      f.descriptors.insert(f.descriptors.end(),
                           vecs.begin() + static_cast<std::ptrdiff_t>(at * dim),
                           vecs.begin() + static_cast<std::ptrdiff_t>((at + 1) * dim));
      f.strengths.push_back(strengths[at]);
      f.scales.push_back(scales[at]);
      f.heads.push_back(static_cast<int32_t>(heads[at]));
      f.xs.push_back(static_cast<int32_t>(locs[2 * at]));
      f.ys.push_back(static_cast<int32_t>(locs[2 * at + 1]));
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

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
                        "evaluation.selection", "runtime."});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  const auto [shard, shards] = parse_shard(parser.get("--shard"));
  const std::vector<ExtractionItem> items = selected_items(image_selection(parser), "extract");
  if (items.empty()) fail("nothing to extract");
  const int64_t part_size = std::max<int64_t>(1, parser.get_int("--part-size"));
  const std::string out = parser.get("--out");
  const int64_t n = static_cast<int64_t>(items.size());
  // Shards are contiguous runs of whole parts, so every run and rerun agrees on the part files.
  const int64_t parts = (n + part_size - 1) / part_size;
  const int64_t first_part = parts * shard / shards, end_part = parts * (shard + 1) / shards;

  const torch::Device device = parse_device(parser.get("--device"), "extract");
  at::set_num_threads(resolve_threads(config));
  MdaNet net = load_model_for_inference(parser.get("--model"), device);
  ExtractionSettings settings = extraction_settings(config, device);

  int64_t todo = 0;
  for (int64_t part = first_part; part < end_part; ++part) {
    const int64_t begin = part * part_size, end = std::min(begin + part_size, n);
    if (!file_exists(part_path(out, begin, end - 1))) todo += end - begin;
  }
  Progress progress(cat("extract shard ", shard, "/", shards), todo, "img");
  settings.stream.progress = &progress;
  for (int64_t part = first_part; part < end_part; ++part) {
    const int64_t begin = part * part_size, end = std::min(begin + part_size, n);
    const std::string path = part_path(out, begin, end - 1);
    if (file_exists(path)) {
      log_info("part ", begin, "..", end - 1, " already extracted, skipping");
      continue;
    }
    const std::vector<ExtractionItem> part_items(items.begin() + begin, items.begin() + end);
    const std::vector<LocalFeatures> features = extract_local_features(*net, part_items, settings);
    write_part(path, features);
  }
  progress.finish();

  // Assemble the folder once every part of every shard exists.
  std::vector<std::string> names;
  std::vector<LocalFeatures> all;
  int64_t missing = 0;
  for (int64_t part_first = 0; part_first < n; part_first += part_size) {
    const std::string path = part_path(out, part_first, std::min(part_first + part_size, n) - 1);
    missing += !file_exists(path);
  }
  if (missing) {
    log_info("shard ", shard, "/", shards, " done; ", missing,
             " part(s) of other shards are still missing");
    return 0;
  }
  for (int64_t part_first = 0; part_first < n; part_first += part_size) {
    for (LocalFeatures& f :
         read_part(part_path(out, part_first, std::min(part_first + part_size, n) - 1)))
      all.push_back(std::move(f));
  }
  for (const ExtractionItem& item : items) names.push_back(item.name);
  write_feature_folder(out, names, all);
  config.save(join_path(out, "extract.config.yaml"));
  int64_t total = 0;
  for (const LocalFeatures& f : all) total += f.count();
  log_info("wrote ", out, ": ", all.size(), " images, ", total, " local features");
  log_info("features per head: ", format_head_counts(count_features_per_head(all)));
  return 0;
}

}  // namespace mda
