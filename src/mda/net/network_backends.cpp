#include "mda/net/network_backends.h"

#include <ATen/Parallel.h>

#include "mda/asmk/torch_point_assigner.h"
#include "mda/cli/command_context.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"

namespace mda {

void register_network_backends() {
  register_torch_point_assigners();
  set_image_feature_extractor([](const std::string& model, const ImageSelection& images,
                                 const std::string& device_name, const Config& config) {
    const std::vector<ExtractionItem> items = selected_items(images, "search");
    const torch::Device device = parse_device(device_name, "search");
    at::set_num_threads(resolve_threads(config));
    MdaNet net = load_model_for_inference(model, device);
    ExtractionSettings settings = extraction_settings(config, device);
    Progress progress("extract queries", static_cast<int64_t>(items.size()), "img");
    settings.stream.progress = &progress;
    const std::vector<LocalFeatures> features = extract_local_features(*net, items, settings);
    progress.finish();
    std::vector<std::string> names;
    for (const ExtractionItem& item : items) names.push_back(item.name);
    return make_feature_set(std::move(names), features);
  });
}

}  // namespace mda
