#include "mda/train/whitening_initialisation.h"

#include <algorithm>

#include "mda/image/transform.h"
#include "mda/net/pca_whitening.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"

namespace mda {

void initialise_reduction(MdaNetImpl& net, const TrainingManifest& manifest,
                          const TrainingOptions& options, const ExtractionSettings& settings) {
  const int64_t images =
      std::min<int64_t>(options.whitening_images, static_cast<int64_t>(manifest.names.size()));
  std::vector<int64_t> first_images(static_cast<size_t>(images));
  for (int64_t i = 0; i < images; ++i) first_images[static_cast<size_t>(i)] = i;
  net.eval();
  torch::InferenceMode no_autograd;
  WhiteningStatistics statistics;
  ImageStreamOptions stream = settings.stream;
  Progress progress("whitening descriptors", images, "img");
  stream.progress = &progress;
  for_each_image(
      item_paths(manifest_items(manifest, first_images)), stream,
      [&](size_t, const Image& image) {
        const torch::Tensor s = net.backbone()->forward(image_tensor(image, settings.device));
        const torch::Tensor strength = s[0].pow(2).sum(0).reshape({-1});
        const torch::Tensor local = net.reduction_input(s)[0].reshape({s.size(1), -1});
        const int64_t keep = std::min<int64_t>(options.whitening_features, strength.numel());
        const torch::Tensor top = std::get<1>(strength.topk(keep));
        statistics.add(local.index_select(1, top).t());
      },
      [&](size_t, Image image) {
        return resize_max_side(image, static_cast<int>(options.image_size));
      });
  progress.finish();
  const int64_t channels = net.backbone_channels();
  if (statistics.count() <= channels) {
    log_warning("PCA-whitening from only ", statistics.count(), " descriptors of dimension ",
                channels, ": raise training.reduction.images");
  }
  set_reduction(net, statistics.whitening(net.architecture().dim));
  log_info("initialised T by PCA-whitening of ", statistics.count(), " descriptors from ", images,
           " images");
}

}  // namespace mda
