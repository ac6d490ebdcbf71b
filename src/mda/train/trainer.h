// MDA training from image-level labels (method.md 1.7, 1.10, 4.2): per-epoch tuple mining with the
// current network, contrastive loss on every head plus the diversity regulariser, Adam with
// per-epoch exponential decay, an atomic checkpoint after every epoch, resumption, and validation
// mAP every k epochs with the best model kept.
//
// Output folder:
//   checkpoint.pt       weights, optimizer state and history after the last finished epoch
//                       (epoch 0 = the initialised network)
//   initial.mdam        the network before training (T initialised)
//   best.mdam           the highest validation Medium mAP (the last epoch without validation)
//   last.mdam           the last finished epoch
//   history.json        per-step and per-epoch losses, mining statistics, validation results
//   train.config.yaml   the configuration of the run (a resumed run must use the same one)
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "mda/data/image_list.h"
#include "mda/io/value.h"
#include "mda/net/mda_net.h"
#include "mda/train/training_options.h"

namespace mda {

struct TrainingRun {
  torch::Device device = torch::kCPU;
  int decode_threads = 4;
  bool resume = false;      // continue from OUT/checkpoint.pt
  int64_t stop_after = 0;   // stop after this many epochs of this call (0 = run to the end)
  std::string config_yaml;  // the effective configuration, saved and checked on resume
};

struct TrainingSummary {
  int64_t epochs_done = 0;
  double best_validation_map = -1;  // Medium mAP, -1 without validation
  Value history;
};

// `net` starts from the pretrained model; its weights are trained in place.
TrainingSummary train_mda(MdaNet net, const TrainingManifest& manifest,
                          const TrainingOptions& options, const TrainingRun& run);

}  // namespace mda
