#include "mda/config/stage_options.h"

#include <algorithm>
#include <thread>

#include "mda/config/config.h"
#include "mda/util/error.h"

namespace mda {
namespace {

int64_t at_least(const Config& config, const std::string& key, int64_t minimum) {
  const int64_t value = config.get_int(key);
  if (value < minimum) fail(key, " must be at least ", minimum, ", found ", value);
  return value;
}

int int_at_least(const Config& config, const std::string& key, int64_t minimum,
                 int64_t maximum = 1 << 30) {
  const int64_t value = at_least(config, key, minimum);
  if (value > maximum) fail(key, " must be at most ", maximum, ", found ", value);
  return static_cast<int>(value);
}

}  // namespace

int resolve_threads(const Config& config) {
  const int64_t threads = config.get_int("runtime.threads");
  if (threads < 0) fail("runtime.threads must be 0 (one per core) or positive, found ", threads);
  return threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                      : static_cast<int>(std::min<int64_t>(threads, 4096));
}

ExtractionOptions extraction_options_from_config(const Config& config) {
  ExtractionOptions o;
  o.image_size = int_at_least(config, "evaluation.image_size", 1);
  o.scales = config.get_doubles("evaluation.scales");
  if (o.scales.empty()) fail("evaluation.scales must list at least one scale");
  for (double s : o.scales)
    if (!(s > 0 && s <= 16)) fail("evaluation.scales must be in (0, 16], found ", s);
  o.features_num = at_least(config, "evaluation.features_num", 1);
  o.selection = config.get_string("evaluation.selection");
  o.precision = config.get_string("evaluation.precision");
  o.batch_size = int_at_least(config, "evaluation.batch_size", 1, 1024);
  o.threads = int_at_least(config, "runtime.threads", 0);
  o.decode_threads = int_at_least(config, "runtime.decode_threads", 0, 256);
  o.on_bad_image = config.get_string("runtime.on_bad_image");
  return o;
}

KMeansOptions kmeans_options_from_config(const Config& config) {
  KMeansOptions o;
  o.k = at_least(config, "train_codebook.codebook.size", 1);
  o.iterations = int_at_least(config, "train_codebook.codebook.niter", 1);
  o.max_points_per_centroid =
      at_least(config, "train_codebook.codebook.max_points_per_centroid", 1);
  o.seed = static_cast<uint64_t>(at_least(config, "train_codebook.codebook.seed", 0));
  o.threads = resolve_threads(config);
  return o;
}

IndexOptions index_options_from_config(const Config& config) {
  IndexOptions o;
  o.binary = config.get_bool("build_ivf.kernel.binary");
  o.multiple_assignment = int_at_least(config, "build_ivf.quantize.multiple_assignment", 1, 255);
  return o;
}

SearchOptions search_options_from_config(const Config& config) {
  SearchOptions o;
  o.multiple_assignment = int_at_least(config, "query_ivf.quantize.multiple_assignment", 1);
  o.alpha = config.get_double("query_ivf.similarity.alpha");
  if (!(o.alpha > 0)) fail("query_ivf.similarity.alpha must be positive, found ", o.alpha);
  o.similarity_threshold = config.get_double("query_ivf.similarity.similarity_threshold");
  if (!(o.similarity_threshold >= -1 && o.similarity_threshold <= 1)) {
    fail("query_ivf.similarity.similarity_threshold must be in [-1, 1], found ",
         o.similarity_threshold);
  }
  o.use_idf = config.get_bool("build_ivf.ivf.use_idf");
  o.topk = config.at("query_ivf.search.topk").is_null()
               ? 0
               : at_least(config, "query_ivf.search.topk", 1);
  o.threads = resolve_threads(config);
  return o;
}

}  // namespace mda
