// The training checkpoint (OUT/checkpoint.pt): weights, optimizer state and history after the last
// finished epoch, written atomically, and what a resumed run must agree on.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "mda/io/value.h"
#include "mda/net/mda_net.h"

namespace mda {

struct Checkpoint {
  int64_t epochs_done = 0;
  double best_map = -1;
  Value history;
};

void save_checkpoint(const std::string& path, MdaNetImpl& net, torch::optim::Adam& optimizer,
                     const Checkpoint& state);
// Loads into `net` and `optimizer`; an absent or unreadable file is an error naming it.
Checkpoint load_checkpoint(const std::string& path, MdaNetImpl& net, torch::optim::Adam& optimizer,
                           const torch::Device& device);

// The configuration a resumed run must match: everything but the number of epochs, which may be
// raised to train further, and the evaluation section, which training never reads (a key added
// there by a newer mda must not strand a run begun by an older one).
std::string comparable_config(const std::string& yaml);

}  // namespace mda
