#include "mda/asmk/asmk_config.h"

#include "mda/config/stage_options.h"

namespace mda {

AsmkEvaluationOptions asmk_options_from_config(const Config& config) {
  AsmkEvaluationOptions o;
  o.codebook = kmeans_options_from_config(config);
  o.index = index_options_from_config(config);
  o.search = search_options_from_config(config);
  o.codebook.threads = o.search.threads = 1;
  return o;
}

}  // namespace mda
