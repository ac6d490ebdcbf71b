// Running the network over lists of images: multi-scale local features (extraction, validation,
// demo) and global descriptors (hard-negative mining, global validation). Queries of a Revisited
// dataset are cropped to their box and keep the scale they have in the full image (revisitop).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "mda/config/config.h"
#include "mda/data/image_list.h"
#include "mda/data/revisited_dataset.h"
#include "mda/image/image.h"
#include "mda/image/image_stream.h"
#include "mda/local_features.h"
#include "mda/net/mda_net.h"
#include "mda/options.h"

namespace mda {

struct ExtractionItem {
  std::string name;  // written to images.txt
  std::string path;
  bool crop = false;
  std::array<double, 4> box{};  // x1, y1, x2, y2 when crop
};

// split: "db" or "queries".
std::vector<ExtractionItem> revisited_items(const RevisitedDataset& dataset,
                                            const std::string& split);
std::vector<ExtractionItem> path_items(const std::vector<std::string>& paths);
// The images of a training manifest at `indices`.
std::vector<ExtractionItem> manifest_items(const TrainingManifest& manifest,
                                           const std::vector<int64_t>& indices);
std::vector<std::string> item_paths(const std::vector<ExtractionItem>& items);

// The items of a selection; `command` names the caller in usage errors.
std::vector<ExtractionItem> selected_items(const ImageSelection& selection,
                                           const std::string& command);

// "cpu" or "cuda" (which must be visible); anything else is a usage error naming `command`.
torch::Device parse_device(const std::string& name, const std::string& command);

// Crops a query to its box, then resizes so that the full image's longest side would be
// `image_size` (never upscaled).
Image prepare_extraction_image(const ExtractionItem& item, Image image, int image_size);

// 1 x 3 x H x W RGB in [0, 1] on `device`.
torch::Tensor image_tensor(const Image& image, const torch::Device& device);

struct ExtractionSettings {
  int image_size = 1024;
  std::vector<double> scales = {1.0};
  int64_t features_num = 1000;
  HeadSelection selection = HeadSelection::kJoint;
  // evaluation.precision (load_model_for_inference applies it).
  BackbonePrecision precision = BackbonePrecision::kFloat;
  int batch_size = 1;  // evaluation.batch_size
  torch::Device device = torch::kCPU;
  ImageStreamOptions stream;
  ProgressCallback on_image;  // called after each image of a list: (done, all)
};

// The public API's options (mda/options.h) on `device`; threads are not set here.
ExtractionSettings extraction_settings(const ExtractionOptions& options,
                                       const torch::Device& device);
// evaluation.image_size, .scales, .features_num, .selection and runtime.decode_threads,
// .on_bad_image.
ExtractionSettings extraction_settings(const Config& config, const torch::Device& device);

// Local features of every item (the network in eval mode, no gradients).
std::vector<LocalFeatures> extract_local_features(MdaNetImpl& net,
                                                  const std::vector<ExtractionItem>& items,
                                                  const ExtractionSettings& settings);

// The combined global descriptor (mean of the N normalised head descriptors, normalised) at scale
// 1 of every item: items x C_T on the CPU. Unreadable images fail whatever the stream's policy.
torch::Tensor extract_global_descriptors(MdaNetImpl& net, const std::vector<ExtractionItem>& items,
                                         const ExtractionSettings& settings);

}  // namespace mda
