#include "mda/asmk/asmk_config.h"

#include "mda/config/config.h"
#include "mda/util/error.h"

namespace mda {
namespace {

int64_t at_least(const Config& config, const std::string& key, int64_t minimum) {
  const int64_t value = config.get_int(key);
  if (value < minimum) fail(key, " must be at least ", minimum, ", found ", value);
  return value;
}

}  // namespace

AsmkEvaluationOptions asmk_options_from_config(const Config& config) {
  AsmkEvaluationOptions o;
  o.codebook_size = at_least(config, "train_codebook.codebook.size", 1);
  o.iterations = static_cast<int>(at_least(config, "train_codebook.codebook.niter", 1));
  o.max_points_per_centroid =
      at_least(config, "train_codebook.codebook.max_points_per_centroid", 1);
  o.seed = static_cast<uint64_t>(at_least(config, "train_codebook.codebook.seed", 0));
  o.binary = config.get_bool("build_ivf.kernel.binary");
  o.database_assignment =
      static_cast<int>(at_least(config, "build_ivf.quantize.multiple_assignment", 1));
  o.query_assignment =
      static_cast<int>(at_least(config, "query_ivf.quantize.multiple_assignment", 1));
  o.params.alpha = config.get_double("query_ivf.similarity.alpha");
  if (!(o.params.alpha > 0))
    fail("query_ivf.similarity.alpha must be positive, found ", o.params.alpha);
  o.params.similarity_threshold = config.get_double("query_ivf.similarity.similarity_threshold");
  if (!(o.params.similarity_threshold >= -1 && o.params.similarity_threshold <= 1)) {
    fail("query_ivf.similarity.similarity_threshold must be in [-1, 1], found ",
         o.params.similarity_threshold);
  }
  o.params.use_idf = config.get_bool("build_ivf.ivf.use_idf");
  return o;
}

}  // namespace mda
