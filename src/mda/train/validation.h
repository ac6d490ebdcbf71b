// Validation during training: retrieval mAP of the current network on a validation dataset
// (ASMK* with a codebook from the validation database, or global descriptors), and what the heads
// select there.
#pragma once

#include "mda/data/revisited_dataset.h"
#include "mda/eval/revisited_eval.h"
#include "mda/io/value.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/head_statistics.h"
#include "mda/net/mda_net.h"
#include "mda/train/training_options.h"

namespace mda {

struct ValidationResult {
  Evaluation evaluation;
  HeadStatistics heads;  // on the validation database
};

// `settings` gives the device and the decoding; the validation options the sizes and scales.
ValidationResult validate(MdaNetImpl& net, const RevisitedDataset& dataset,
                          const ValidationOptions& validation, ExtractionSettings settings,
                          int threads);

// {"easy": mAP, "medium": ..., "hard": ...} in percent, null where not applicable.
Value evaluation_summary(const Evaluation& evaluation);
// Medium mAP in percent (0 when not applicable): the number that picks the best epoch.
double medium_map(const Evaluation& evaluation);

}  // namespace mda
