// What a build with libtorch adds to the commands of the core library: the libtorch
// nearest-centroid backends (torch-cpu, cuda) and local features computed from images by a model
// file (search --model). The mda binary calls this once at start; so do tests that need them.
#pragma once

namespace mda {

void register_network_backends();

}  // namespace mda
