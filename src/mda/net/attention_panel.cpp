#include "mda/net/attention_panel.h"

#include <algorithm>

#include "mda/net/feature_extraction.h"

namespace mda {

AttentionPanel attention_panel(MdaNetImpl& net, const std::string& name, const Image& image,
                               const std::vector<double>& scales, int64_t features_num,
                               HeadSelection selection) {
  net.eval();
  AttentionPanel panel;
  panel.image_name = name;
  panel.image = image;
  const torch::Tensor x = image_tensor(image, torch::kCPU);
  torch::Tensor attention;
  {
    torch::InferenceMode no_autograd;
    attention = net.forward(x).attention[0].contiguous();  // N x H x W
  }
  const int64_t heads = attention.size(0), h = attention.size(1), w = attention.size(2);
  for (int64_t head = 0; head < heads; ++head) {
    const torch::Tensor map = attention[head];
    // Each head's own range, so that its shape shows whatever its magnitude.
    const float low = map.min().item<float>();
    const float range = std::max(map.max().item<float>() - low, 1e-12f);
    const float* a = map.data_ptr<float>();
    Image overlay(image.width, image.height);
    for (int y = 0; y < image.height; ++y) {
      const int64_t ay = std::min<int64_t>(h - 1, static_cast<int64_t>(y) * h / image.height);
      for (int xx = 0; xx < image.width; ++xx) {
        const int64_t ax = std::min<int64_t>(w - 1, static_cast<int64_t>(xx) * w / image.width);
        const auto heat = heat_colour((a[ay * w + ax] - low) / range);
        for (int c = 0; c < 3; ++c)
          overlay.at(xx, y, c) =
              static_cast<uint8_t>(0.4 * image.at(xx, y, c) + 0.6 * heat[static_cast<size_t>(c)]);
      }
    }
    panel.head_overlays.push_back(std::move(overlay));
  }
  const LocalFeatures features = net.extract_local(x, scales, features_num, selection);
  panel.features = image;
  for (uint8_t& p : panel.features.pixels) p = static_cast<uint8_t>(p * 0.55);
  panel.features_per_head.assign(static_cast<size_t>(heads), 0);
  const double stride = static_cast<double>(net.backbone()->stride());
  for (int64_t i = 0; i < features.count(); ++i) {
    const int head = features.heads[static_cast<size_t>(i)];
    const double scale = features.scales[static_cast<size_t>(i)];
    const int cx = static_cast<int>((features.xs[static_cast<size_t>(i)] + 0.5) * stride / scale);
    const int cy = static_cast<int>((features.ys[static_cast<size_t>(i)] + 0.5) * stride / scale);
    const auto colour = head_colour(head);
    if (head >= 0 && head < heads) ++panel.features_per_head[static_cast<size_t>(head)];
    for (int dy = -2; dy <= 2; ++dy) {
      for (int dx = -2; dx <= 2; ++dx) {
        const int px = cx + dx, py = cy + dy;
        if (px < 0 || py < 0 || px >= image.width || py >= image.height) continue;
        for (int c = 0; c < 3; ++c) panel.features.at(px, py, c) = colour[static_cast<size_t>(c)];
      }
    }
  }
  return panel;
}

}  // namespace mda
