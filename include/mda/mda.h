// The public C++ API of mda (docs/api.md): extraction, codebooks, the ASMK* index, evaluation.
#pragma once

#include "mda/codebook.h"
#include "mda/evaluate.h"
#include "mda/extractor.h"
#include "mda/index.h"
#include "mda/local_features.h"
#include "mda/options.h"
#include "mda/search_ranking.h"
#include "mda/sharded_index.h"
