// mda::Extractor (mda/extractor.h) over the network library: a model loaded once for inference,
// the extraction settings, and a lock so that calls run one at a time.
#include "mda/extractor.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <mutex>
#include <thread>

#include "mda/image/codec.h"
#include "mda/net/attention_panel.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
#include "mda/util/error.h"
#include "mda/util/progress.h"

namespace mda {

struct Extractor::State {
  ExtractionOptions options;
  ExtractionSettings settings;
  MdaNet net{nullptr};
  std::mutex mutex;

  // Cropped to `box` and resized for extraction, as the network library's lists are.
  Image prepare(Image image, const std::optional<BoundingBox>& box,
                const std::string& source) const {
    ExtractionItem item{source, source, box.has_value(), {}};
    if (box) item.box = {box->x1, box->y1, box->x2, box->y2};
    return prepare_extraction_image(item, std::move(image), settings.image_size);
  }

  LocalFeatures extract_image(Image image, const std::optional<BoundingBox>& box,
                              const std::string& source) {
    const Image prepared = prepare(std::move(image), box, source);
    const std::lock_guard<std::mutex> lock(mutex);
    return net->extract_local(image_tensor(prepared, settings.device), settings.scales,
                              settings.features_num, settings.selection);
  }
};

Extractor::Extractor(const std::string& model_path, ExtractionOptions options,
                     const std::string& device) {
  if (device != "cpu" && device != "cuda")
    fail("Extractor: device must be cpu or cuda, found '", device, "'");
  if (device == "cuda" && !torch::cuda::is_available())
    fail("Extractor: device cuda, but no CUDA device is visible to libtorch");
  if (options.image_size < 1)
    fail("Extractor: image_size must be positive, found ", options.image_size);
  if (options.features_num < 1)
    fail("Extractor: features_num must be positive, found ", options.features_num);
  if (options.batch_size < 1)
    fail("Extractor: batch_size must be positive, found ", options.batch_size);
  if (options.scales.empty()) fail("Extractor: scales must list at least one scale");
  for (double s : options.scales)
    if (!(s > 0 && s <= 16)) fail("Extractor: scales must be in (0, 16], found ", s);
  if (options.threads < 0) fail("Extractor: threads must be 0 (one per core) or positive");
  const torch::Device torch_device =
      device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  auto state = std::make_unique<State>();
  state->options = options;
  state->settings = extraction_settings(options, torch_device);
  at::set_num_threads(options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  state->net = load_model_for_inference(model_path, torch_device, state->settings.precision);
  state_ = std::move(state);
}

Extractor::Extractor(Extractor&&) noexcept = default;
Extractor& Extractor::operator=(Extractor&&) noexcept = default;
Extractor::~Extractor() = default;

LocalFeatures Extractor::extract(const std::string& image_path,
                                 const std::optional<BoundingBox>& box) const {
  return state_->extract_image(read_image(image_path), box, image_path);
}

LocalFeatures Extractor::extract_encoded(const std::vector<uint8_t>& bytes,
                                         const std::optional<BoundingBox>& box,
                                         const std::string& source) const {
  return state_->extract_image(decode_image(bytes, source), box, source);
}

namespace {

// A caller's RGB buffer as an Image; `what` names the call in the error for an empty one.
Image image_from_rgb(const uint8_t* rgb, int width, int height, const char* what) {
  if (!rgb || width < 1 || height < 1) fail(what, ": an empty image (", width, " x ", height, ")");
  Image image(width, height);
  std::copy(rgb, rgb + image.pixels.size(), image.pixels.begin());
  return image;
}

}  // namespace

LocalFeatures Extractor::extract_rgb(const uint8_t* rgb, int width, int height,
                                     const std::optional<BoundingBox>& box) const {
  return state_->extract_image(image_from_rgb(rgb, width, height, "Extractor::extract_rgb"), box,
                               "RGB image");
}

AttentionPicture Extractor::attention_maps(const uint8_t* rgb, int width, int height,
                                           const std::optional<BoundingBox>& box) const {
  Image image = image_from_rgb(rgb, width, height, "Extractor::attention_maps");
  if (state_->settings.device != torch::kCPU)
    fail("Extractor::attention_maps: needs a model on the cpu device");
  const Image prepared = state_->prepare(std::move(image), box, "RGB image");
  AttentionPanel panel;
  {
    const std::lock_guard<std::mutex> lock(state_->mutex);
    panel = attention_panel(*state_->net, "RGB image", prepared, state_->settings.scales,
                            state_->settings.features_num, state_->settings.selection);
  }
  const auto rgb_image = [](Image&& from) {
    return RgbImage{from.width, from.height, std::move(from.pixels)};
  };
  AttentionPicture maps;
  maps.image = rgb_image(std::move(panel.image));
  for (Image& head : panel.head_overlays) maps.heads.push_back(rgb_image(std::move(head)));
  maps.features = rgb_image(std::move(panel.features));
  maps.features_per_head = std::move(panel.features_per_head);
  return maps;
}

std::vector<LocalFeatures> Extractor::extract_many(const std::vector<std::string>& image_paths,
                                                   ProgressCallback progress) const {
  ExtractionSettings settings = state_->settings;
  std::unique_ptr<Progress> bar;
  if (progress) {
    settings.on_image = std::move(progress);
  } else {
    bar = std::make_unique<Progress>("extract", static_cast<int64_t>(image_paths.size()), "img");
    settings.stream.progress = bar.get();
  }
  const std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<LocalFeatures> features =
      extract_local_features(*state_->net, path_items(image_paths), settings);
  if (bar) bar->finish();
  return features;
}

std::vector<float> Extractor::global_descriptor(const std::string& image_path) const {
  const std::lock_guard<std::mutex> lock(state_->mutex);
  const torch::Tensor row =
      extract_global_descriptors(*state_->net, path_items({image_path}), state_->settings)
          .contiguous();
  return std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
}

int64_t Extractor::descriptor_dim() const { return state_->net->architecture().dim; }

int Extractor::heads() const { return state_->net->architecture().heads; }

const ExtractionOptions& Extractor::options() const { return state_->options; }

}  // namespace mda
