// The `training` section of the configuration as typed, validated options (method.md 2 and 4.2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/asmk/asmk_ranking.h"
#include "mda/features/head_selection.h"
#include "mda/train/augmentation.h"

namespace mda {

class Config;

struct ValidationOptions {
  std::string data_root, dataset;  // empty dataset = no validation
  int64_t every = 5;
  std::string method = "asmk";  // asmk | global
  int64_t image_size = 1024;
  std::vector<double> scales = {1.0};
  int64_t features_num = 1000;
  HeadSelection selection = HeadSelection::kJoint;
  // The configuration's ASMK* options, with validation's own codebook size.
  AsmkEvaluationOptions asmk;

  bool enabled() const { return !dataset.empty(); }
};

struct TrainingOptions {
  std::string manifest, image_folder, image_extension = ".jpg", out;
  int64_t epochs = 20, qsize = 2000, poolsize = 20000, nnum = 5, batch_tuples = 5;
  int64_t image_size = 1024;
  double margin = 0.8, diversity_weight = 1.0;
  double lr = 1e-6, attention_lr = 1e-4, weight_decay = 1e-4, lr_decay = 0.99;
  std::string reduction_init = "pca";  // pca | keep
  bool freeze_reduction = false;
  int64_t whitening_images = 5000, whitening_features = 1000;
  AugmentationOptions augmentation;
  bool mixed_precision = false;
  uint64_t seed = 0;
  ValidationOptions validation;

  // Reads and validates the section; errors name the key and the value.
  static TrainingOptions from_config(const Config& config);
};

}  // namespace mda
