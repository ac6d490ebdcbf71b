#include "mda/net/head_statistics.h"

#include <sstream>

#include "mda/features/head_counts.h"
#include "mda/net/losses.h"

namespace mda {

Value HeadStatistics::to_value() const {
  Value v = Value::empty_dict();
  v.set("images", Value(images));
  Value::List counts, peaks;
  for (int64_t c : features_per_head) counts.emplace_back(c);
  for (double p : mean_peak) peaks.emplace_back(p);
  v.set("features_per_head", Value(std::move(counts)));
  v.set("mean_peak_attention", Value(std::move(peaks)));
  v.set("overlap", Value(overlap));
  return v;
}

std::string HeadStatistics::summary() const {
  std::ostringstream out;
  out << "features per head " << format_head_counts(features_per_head) << "; peak attention";
  for (double p : mean_peak) out << ' ' << p;
  out << "; overlap " << overlap;
  return out.str();
}

HeadStatistics measure_head_statistics(MdaNetImpl& net, const std::vector<ExtractionItem>& items,
                                       const ExtractionSettings& settings,
                                       const std::vector<LocalFeatures>& features) {
  net.eval();
  const int64_t heads = net.architecture().heads;
  HeadStatistics stats;
  stats.images = static_cast<int64_t>(items.size());
  stats.features_per_head = count_features_per_head(features, heads);
  stats.mean_peak.assign(static_cast<size_t>(heads), 0.0);
  torch::InferenceMode no_autograd;
  ImageStreamOptions stream = settings.stream;
  stream.progress = nullptr;
  double overlap_sum = 0;
  int64_t measured = 0;
  for_each_image(
      item_paths(items), stream,
      [&](size_t, const Image& image) {
        const torch::Tensor attention =
            net.forward(image_tensor(image, settings.device)).attention.to(torch::kFloat32);
        const torch::Tensor peaks =
            std::get<0>(attention[0].reshape({heads, -1}).max(1)).cpu().contiguous();
        for (int64_t i = 0; i < heads; ++i)
          stats.mean_peak[static_cast<size_t>(i)] += peaks.data_ptr<float>()[i];
        if (heads > 1) overlap_sum += 1.0 + diversity_regularizer(attention).item<double>();
        ++measured;
      },
      [&](size_t i, Image image) {
        return prepare_extraction_image(items[i], std::move(image), settings.image_size);
      });
  for (double& p : stats.mean_peak) p /= static_cast<double>(std::max<int64_t>(measured, 1));
  stats.overlap =
      heads > 1 ? overlap_sum / static_cast<double>(std::max<int64_t>(measured, 1)) : 1.0;
  return stats;
}

}  // namespace mda
