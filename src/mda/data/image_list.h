// Plain-text image lists (one path per line) and training manifests (TSV "name<TAB>label").
#pragma once

#include <string>
#include <vector>

namespace mda {

// Blank lines are skipped. Relative paths are resolved against `root` (default: the list's own
// folder). An empty list is an error.
std::vector<std::string> read_image_list(const std::string& path, const std::string& root = "");

// Which images a command runs the network on: an image list, or a dataset's split ("db" or
// "queries", Revisited layout under data_root).
struct ImageSelection {
  std::string images_list;
  std::string data_root, dataset, split = "db";
};

struct TrainingManifest {
  std::string path;                      // the manifest file
  std::string image_folder;              // names are relative to it (the dataset's jpg/)
  std::vector<std::string> names;        // without extension
  std::vector<int> labels;               // dense ids, one per name
  std::vector<std::string> label_names;  // id -> label text, in order of first appearance
  std::string extension = ".jpg";        // appended to names ('' for SfM-120k's bare files)

  std::string image_path(size_t index) const;
};

// Header must be exactly "name<TAB>label". Each row needs both fields; a duplicate name is an
// error. `image_folder` defaults to <manifest folder>/jpg.
TrainingManifest read_training_manifest(const std::string& path,
                                        const std::string& image_folder = "",
                                        const std::string& extension = ".jpg");

}  // namespace mda
