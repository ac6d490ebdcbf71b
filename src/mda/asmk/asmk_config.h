// The ASMK* options of the configuration (train_codebook, build_ivf, query_ivf sections), read in
// one place so that `mda search`, `mda build-index` and training-time validation agree.
#pragma once

#include "mda/asmk/asmk_ranking.h"

namespace mda {

class Config;

// Codebook size and k-means options, binary kernel, database and query multiple assignment,
// alpha, tau and idf; each value range-checked with its key named. `threads` stays 1.
AsmkEvaluationOptions asmk_options_from_config(const Config& config);

}  // namespace mda
