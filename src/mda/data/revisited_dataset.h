// A dataset in the Revisited Oxford/Paris layout:
//   <root>/<name>/jpg/<image>.jpg  and  <root>/<name>/gnd_<name>.pkl (or .json)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mda/io/value.h"

namespace mda {

struct QueryGroundTruth {
  std::array<double, 4> bbx{};  // x1, y1, x2, y2 in query-image pixels
  bool has_bbx = false;
  std::vector<int64_t> easy;  // indices into the database list
  std::vector<int64_t> hard;
  std::vector<int64_t> junk;
};

struct RevisitedDataset {
  std::string name;
  std::string folder;                 // <root>/<name>
  std::string gnd_path;               // the ground-truth file that was read
  std::vector<std::string> database;  // imlist
  std::vector<std::string> queries;   // qimlist
  std::vector<QueryGroundTruth> gnd;  // one per query

  std::string image_path(const std::string& image_name) const;
  std::string database_path(size_t index) const { return image_path(database.at(index)); }
  std::string query_path(size_t index) const { return image_path(queries.at(index)); }
  // Throws naming the first missing file and how many are missing.
  void check_images_exist() const;
};

// Reads gnd_<name>.pkl, or gnd_<name>.json when there is no pickle.
RevisitedDataset load_revisited_dataset(const std::string& data_root, const std::string& name);
// Validates a ground-truth tree (as loaded from the pickle or JSON); `source` names it in errors.
RevisitedDataset revisited_dataset_from_value(const Value& tree, const std::string& source);
// Writes the ground truth as gnd_<name>.json (the pickle is Python's to write).
Value revisited_ground_truth_to_value(const RevisitedDataset& dataset);

}  // namespace mda
