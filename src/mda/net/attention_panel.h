// The report's picture of what the network attends to in one image: each head's attention map
// (scale 1) as a heat map over the image, and the kept local features over all scales drawn at
// their image position in the colour of the head that selected them (the paper's Fig. 4).
#pragma once

#include <vector>

#include "mda/image/image.h"
#include "mda/net/mda_net.h"
#include "mda/report/html_report.h"

namespace mda {

// `image` is already resized for extraction; the network runs on the CPU in eval mode.
AttentionPanel attention_panel(MdaNetImpl& net, const std::string& name, const Image& image,
                               const std::vector<double>& scales, int64_t features_num,
                               HeadSelection selection);

}  // namespace mda
