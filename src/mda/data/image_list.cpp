#include "mda/data/image_list.h"

#include <filesystem>
#include <map>
#include <set>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {

std::vector<std::string> read_image_list(const std::string& path, const std::string& root) {
  const std::string base = root.empty() ? parent_dir(path) : root;
  std::vector<std::string> paths;
  for (const std::string& raw : split(read_file_text(path), '\n')) {
    const std::string line(trim(raw));
    if (line.empty()) continue;
    paths.push_back(std::filesystem::path(line).is_absolute() ? line : join_path(base, line));
  }
  if (paths.empty()) fail(path, ": the image list is empty");
  return paths;
}

std::string TrainingManifest::image_path(size_t index) const {
  return join_path(image_folder, names.at(index) + extension);
}

TrainingManifest read_training_manifest(const std::string& path, const std::string& image_folder,
                                        const std::string& extension) {
  TrainingManifest manifest;
  manifest.path = path;
  manifest.extension = extension;
  manifest.image_folder = image_folder.empty() ? join_path(parent_dir(path), "jpg") : image_folder;
  const std::vector<std::string> lines = split(read_file_text(path), '\n');
  if (lines.empty() || std::string(trim(lines[0])) != "name\tlabel") {
    fail(path, ":1: a training manifest must start with the header 'name<TAB>label', found '",
         lines.empty() ? "" : std::string(trim(lines[0])), "'");
  }
  std::map<std::string, int> label_ids;
  std::set<std::string> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const std::vector<std::string> fields = split(line, '\t');
    if (fields.size() != 2 || trim(fields[0]).empty() || trim(fields[1]).empty()) {
      fail(path, ":", i + 1, ": expected 'name<TAB>label', found '", line, "'");
    }
    const std::string name(trim(fields[0]));
    const std::string label(trim(fields[1]));
    if (!seen.insert(name).second) fail(path, ":", i + 1, ": duplicate image name '", name, "'");
    const auto [it, inserted] =
        label_ids.emplace(label, static_cast<int>(manifest.label_names.size()));
    if (inserted) manifest.label_names.push_back(label);
    manifest.names.push_back(name);
    manifest.labels.push_back(it->second);
  }
  if (manifest.names.empty()) fail(path, ": the training manifest has no rows");
  return manifest;
}

}  // namespace mda
