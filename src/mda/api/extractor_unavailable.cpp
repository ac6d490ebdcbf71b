// mda::Extractor in a build without libtorch: every constructor call explains why it cannot work.
#include "mda/extractor.h"
#include "mda/util/error.h"

namespace mda {

struct Extractor::State {};

Extractor::Extractor(const std::string& model_path, ExtractionOptions, const std::string&) {
  fail("Extractor: cannot load '", model_path,
       "': this mda was built without libtorch, so it has no network code");
}
Extractor::Extractor(Extractor&&) noexcept = default;
Extractor& Extractor::operator=(Extractor&&) noexcept = default;
Extractor::~Extractor() = default;
LocalFeatures Extractor::extract(const std::string&, const std::optional<BoundingBox>&) const {
  return {};
}
LocalFeatures Extractor::extract_encoded(const std::vector<uint8_t>&,
                                         const std::optional<BoundingBox>&,
                                         const std::string&) const {
  return {};
}
LocalFeatures Extractor::extract_rgb(const uint8_t*, int, int,
                                     const std::optional<BoundingBox>&) const {
  return {};
}
AttentionPicture Extractor::attention_maps(const uint8_t*, int, int,
                                           const std::optional<BoundingBox>&) const {
  return {};
}
std::vector<LocalFeatures> Extractor::extract_many(const std::vector<std::string>&,
                                                   ProgressCallback) const {
  return {};
}
std::vector<float> Extractor::global_descriptor(const std::string&) const { return {}; }
int64_t Extractor::descriptor_dim() const { return 0; }
int Extractor::heads() const { return 0; }
const ExtractionOptions& Extractor::options() const {
  static const ExtractionOptions defaults;
  return defaults;
}

}  // namespace mda
