// The images of every shard a manifest names, in one in-memory inverted file: what
// merge_index_shards writes, and what Index::open gives for a manifest. Internal to the API.
#pragma once

#include <string>

#include "mda/asmk/inverted_file.h"

namespace mda {

InvertedFile load_merged_shards(const std::string& manifest_path);

}  // namespace mda
