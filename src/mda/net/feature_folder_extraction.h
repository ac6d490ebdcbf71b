// Extraction of a whole image list into a feature folder (features/feature_folder.h), in parts of
// `part_size` images, each written atomically under OUT/parts/: a killed run resumes where it
// stopped, and shards (k of N contiguous runs of whole parts) can share a list between processes
// or machines. The run that finds every part present assembles OUT/{vecs,imids,...}.npy.
//
// OUT/parts/source.json records what the parts are made from: the image list (names, paths,
// crops), the model file's content and the extraction settings. A run over a folder made from
// anything else is an error saying what differs, never a folder that mixes two extractions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/net/feature_extraction.h"

namespace mda {

struct FolderExtractionOptions {
  int64_t part_size = 64;  // images per part, the unit of resumption
  int64_t shard = 0;       // this run's block of parts, 0 <= shard < shards
  int64_t shards = 1;
  std::string model_file;  // recorded (by content) in OUT/parts/source.json
  bool assemble = true;    // assemble the folder when every part exists (else leave it to
                           // assemble_feature_folder, as the ranks of an MPI job do)
};

struct FolderExtractionResult {
  bool assembled = false;     // every part existed and the folder was written
  int64_t missing_parts = 0;  // parts of other shards not written yet
  int64_t images = 0, features = 0;
  std::vector<int64_t> features_per_head;  // of the assembled folder, one count per head
};

// `settings.stream.progress` (when set) advances per image extracted in this run.
FolderExtractionResult extract_feature_folder(MdaNetImpl& net,
                                              const std::vector<ExtractionItem>& items,
                                              const std::string& out,
                                              const ExtractionSettings& settings,
                                              const FolderExtractionOptions& options);

// Records what the parts are made from in a new folder, or checks it against the record there
// (extract_feature_folder does it too; several processes sharing a new folder let one do it
// first, so that none finds the folder half-made).
void record_extraction_source(const std::vector<ExtractionItem>& items, const std::string& out,
                              const ExtractionSettings& settings, const std::string& model_file);

// Writes OUT/{vecs,imids,...}.npy from the parts when every part exists (else `missing_parts`).
// `heads`: the model's N, so that heads which kept no feature are counted too.
FolderExtractionResult assemble_feature_folder(const std::vector<ExtractionItem>& items,
                                               const std::string& out, int64_t part_size,
                                               int64_t heads);

// Images this run still has to extract (those of its shard's missing parts), for a progress bar.
int64_t images_to_extract(int64_t images, const std::string& out,
                          const FolderExtractionOptions& options);

}  // namespace mda
