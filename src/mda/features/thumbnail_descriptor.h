// A deliberately simple global descriptor: the image shrunk to a tiny colour thumbnail, centred
// and L2-normalised. It is the no-learning baseline the demo compares the network against.
#pragma once

#include <vector>

#include "mda/image/image.h"

namespace mda {

// side x side x 3 values, zero mean, unit L2 norm (all zeros for a flat image).
std::vector<float> thumbnail_descriptor(const Image& image, int side = 8);

}  // namespace mda
