#include "mda/net/feature_extraction.h"

#include <algorithm>
#include <cmath>

#include "mda/config/stage_options.h"
#include "mda/image/transform.h"
#include "mda/util/error.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

std::vector<ExtractionItem> revisited_items(const RevisitedDataset& dataset,
                                            const std::string& split) {
  std::vector<ExtractionItem> items;
  if (split == "db") {
    for (size_t i = 0; i < dataset.database.size(); ++i)
      items.push_back({dataset.database[i], dataset.database_path(i), false, {}});
  } else if (split == "queries") {
    for (size_t i = 0; i < dataset.queries.size(); ++i) {
      items.push_back(
          {dataset.queries[i], dataset.query_path(i), dataset.gnd[i].has_bbx, dataset.gnd[i].bbx});
    }
  } else {
    fail("split must be db or queries, found '", split, "'");
  }
  return items;
}

std::vector<ExtractionItem> manifest_items(const TrainingManifest& manifest,
                                           const std::vector<int64_t>& indices) {
  std::vector<ExtractionItem> items;
  for (int64_t i : indices) {
    const size_t index = static_cast<size_t>(i);
    items.push_back({manifest.names[index], manifest.image_path(index), false, {}});
  }
  return items;
}

std::vector<ExtractionItem> path_items(const std::vector<std::string>& paths) {
  std::vector<ExtractionItem> items;
  for (const std::string& path : paths) items.push_back({path, path, false, {}});
  return items;
}

std::vector<ExtractionItem> selected_items(const ImageSelection& selection,
                                           const std::string& command) {
  if (!selection.images_list.empty()) return path_items(read_image_list(selection.images_list));
  if (selection.data_root.empty() || selection.dataset.empty()) {
    throw UsageError(
        cat("mda ", command, ": give --images FILE, or --data-root DIR and --dataset NAME"));
  }
  if (selection.split != "db" && selection.split != "queries") {
    throw UsageError(
        cat("mda ", command, ": --split must be db or queries, found '", selection.split, "'"));
  }
  return revisited_items(load_revisited_dataset(selection.data_root, selection.dataset),
                         selection.split);
}

torch::Device parse_device(const std::string& name, const std::string& command) {
  if (name != "cpu" && name != "cuda")
    throw UsageError(cat("mda ", command, ": --device must be cpu or cuda, found '", name, "'"));
  if (name == "cuda" && !torch::cuda::is_available())
    fail("mda ", command, ": --device cuda, but no CUDA device is visible to libtorch");
  return name == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

ExtractionSettings extraction_settings(const ExtractionOptions& options,
                                       const torch::Device& device) {
  ExtractionSettings settings;
  settings.image_size = options.image_size;
  settings.scales = options.scales;
  settings.features_num = options.features_num;
  settings.selection = parse_head_selection(options.selection, "evaluation.selection");
  settings.precision = parse_backbone_precision(options.precision, "evaluation.precision");
  settings.batch_size = options.batch_size;
  settings.device = device;
  settings.stream.threads = options.decode_threads;
  settings.stream.on_bad_image = parse_bad_image_policy(options.on_bad_image);
  return settings;
}

ExtractionSettings extraction_settings(const Config& config, const torch::Device& device) {
  return extraction_settings(extraction_options_from_config(config), device);
}

Image prepare_extraction_image(const ExtractionItem& item, Image image, int image_size) {
  if (!item.crop) return resize_max_side(image, image_size);
  const int full = std::max(image.width, image.height);
  Image cropped = crop(image, item.box);
  const double target =
      image_size * static_cast<double>(std::max(cropped.width, cropped.height)) / full;
  return resize_max_side(cropped, std::max(1, static_cast<int>(std::lround(target))));
}

torch::Tensor image_tensor(const Image& image, const torch::Device& device) {
  const FloatImage f = to_normalized_float(image, {0, 0, 0}, {1, 1, 1});
  return torch::from_blob(const_cast<float*>(f.data.data()), {1, 3, f.height, f.width},
                          torch::kFloat32)
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

std::vector<std::string> item_paths(const std::vector<ExtractionItem>& items) {
  std::vector<std::string> paths;
  for (const ExtractionItem& item : items) paths.push_back(item.path);
  return paths;
}

std::vector<LocalFeatures> extract_local_features(MdaNetImpl& net,
                                                  const std::vector<ExtractionItem>& items,
                                                  const ExtractionSettings& settings) {
  std::vector<LocalFeatures> features(items.size());
  int64_t done = 0;
  // evaluation.batch_size: consecutive images of one size wait for each other and go through the
  // network together; a different size, a full batch or the end of the list runs the waiting ones.
  std::vector<size_t> waiting;
  std::vector<torch::Tensor> waiting_images;
  const auto run_waiting = [&] {
    if (waiting.empty()) return;
    const torch::Tensor batch =
        waiting_images.size() == 1 ? waiting_images[0] : torch::cat(waiting_images, 0);
    std::vector<LocalFeatures> batch_features =
        net.extract_local_batch(batch, settings.scales, settings.features_num, settings.selection);
    for (size_t k = 0; k < waiting.size(); ++k) {
      features[waiting[k]] = std::move(batch_features[k]);
      if (settings.on_image) settings.on_image(++done, static_cast<int64_t>(items.size()));
    }
    waiting.clear();
    waiting_images.clear();
  };
  const std::vector<size_t> skipped = for_each_image(
      item_paths(items), settings.stream,
      [&](size_t i, const Image& image) {
        torch::Tensor x = image_tensor(image, settings.device);
        if (!waiting_images.empty() && waiting_images[0].sizes() != x.sizes()) run_waiting();
        waiting.push_back(i);
        waiting_images.push_back(std::move(x));
        if (static_cast<int>(waiting.size()) >= settings.batch_size) run_waiting();
      },
      [&](size_t i, Image image) {
        return prepare_extraction_image(items[i], std::move(image), settings.image_size);
      });
  run_waiting();
  // runtime.on_bad_image: skip (fail has thrown already): an unreadable image keeps its place with
  // no features, so positions still match the list (and a dataset's ground truth); it is never
  // retrieved, and the feature folder lists it in skipped.txt.
  for (size_t i : skipped) features[i].dim = net.architecture().dim;
  if (!skipped.empty()) {
    log_warning(skipped.size(),
                " image(s) could not be read and have no features (first: ", items[skipped[0]].path,
                "); they keep their positions and are never retrieved");
  }
  return features;
}

torch::Tensor extract_global_descriptors(MdaNetImpl& net, const std::vector<ExtractionItem>& items,
                                         const ExtractionSettings& settings) {
  torch::InferenceMode no_autograd;
  std::vector<torch::Tensor> rows(items.size());
  ImageStreamOptions stream = settings.stream;
  stream.on_bad_image = BadImagePolicy::kFail;
  for_each_image(
      item_paths(items), stream,
      [&](size_t i, const Image& image) {
        const AttentionMaps maps = net.forward(image_tensor(image, settings.device));
        rows[i] = MdaNetImpl::combine_heads(MdaNetImpl::pooled_descriptors(maps))
                      .to(torch::kCPU, torch::kFloat32);
      },
      [&](size_t i, Image image) {
        return prepare_extraction_image(items[i], std::move(image), settings.image_size);
      });
  if (rows.empty()) return torch::empty({0, net.architecture().dim});
  return torch::cat(rows, 0);
}

}  // namespace mda
