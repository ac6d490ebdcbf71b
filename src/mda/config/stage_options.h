// The one adapter from a configuration (defaults <- --config <- --set) to the typed options of the
// public API (mda/options.h). Every value is range-checked here, with its key named.
#pragma once

#include "mda/options.h"

namespace mda {

class Config;

// runtime.threads, with 0 meaning one per core.
int resolve_threads(const Config& config);

ExtractionOptions extraction_options_from_config(const Config& config);  // evaluation.*, runtime.*
KMeansOptions kmeans_options_from_config(const Config& config);  // train_codebook.codebook.*
IndexOptions index_options_from_config(const Config& config);    // build_ivf.*
SearchOptions search_options_from_config(const Config& config);  // query_ivf.*, use_idf, threads

}  // namespace mda
