// The pipeline stages behind the commands, their arguments parsed: each command's run_* parses its
// argv and calls its stage, and `mda run` calls the stages directly. A stage reads the typed
// options it needs from the configuration, calls the libraries and writes its outputs.
#pragma once

#include <cstdint>
#include <string>

#include "mda/config/config.h"
#include "mda/data/image_list.h"

namespace mda {

struct ExtractStage {
  std::string model, out, device = "cpu";
  ImageSelection images;
  int64_t part_size = 64, shard = 0, shards = 1;
};
void extract_stage(const Config& config, const ExtractStage& stage);  // needs libtorch

void train_codebook_stage(const Config& config, const std::string& features, const std::string& out,
                          const std::string& device);

void build_index_stage(const Config& config, const std::string& codebook,
                       const std::string& features, const std::string& out, bool append);

struct SearchStage {
  std::string index, codebook, features, out;  // codebook: optional, checked against the index
  int64_t topk = 0;                            // 0: query_ivf.search.topk
  int64_t pairs_topk = 100;
};
void search_stage(const Config& config, const SearchStage& stage);

// Prints the metrics table; writes `json` (with the configuration beside it) unless empty.
void evaluate_stage(const Config& config, const std::string& data_root, const std::string& dataset,
                    const std::string& ranks, const std::string& json);

}  // namespace mda
