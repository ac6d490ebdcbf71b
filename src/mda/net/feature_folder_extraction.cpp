#include "mda/net/feature_folder_extraction.h"

#include <algorithm>
#include <cstdio>

#include "mda/features/feature_folder.h"
#include "mda/features/head_counts.h"
#include "mda/io/json.h"
#include "mda/io/tensor_archive.h"
#include "mda/util/checksum.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

std::string part_path(const std::string& out, int64_t first, int64_t last) {
  char name[64];
  std::snprintf(name, sizeof name, "part-%08lld-%08lld.mdaf", static_cast<long long>(first),
                static_cast<long long>(last));
  return join_path(join_path(out, "parts"), name);
}

void write_part(const std::string& path, const std::vector<LocalFeatures>& features) {
  TensorArchive archive;
  archive.kind = "mda-features-part";
  Value::List counts;
  for (const LocalFeatures& f : features) counts.emplace_back(f.count());
  archive.meta.set("counts", Value(std::move(counts)));
  archive.meta.set("dim", Value(features.empty() ? int64_t{0} : features[0].dim));  // all equal
  archive.tensors = how_layout_arrays(features);
  write_tensor_archive(path, archive);
}

// A part's features, checked against itself and against the `images` its name promises: a part
// damaged on disk (or crafted) is an error naming the file, never a read out of bounds.
std::vector<LocalFeatures> read_part(const std::string& path, int64_t images) {
  const TensorArchive archive = read_tensor_archive(path, "mda-features-part");
  const Value* counts_value = archive.meta.find("counts");
  const Value* dim_value = archive.meta.find("dim");
  if (!counts_value || !counts_value->is_list() || !dim_value || !dim_value->is_int())
    fail(path, ": a features part without its counts and dim");
  const std::vector<int64_t> counts = counts_value->to_int_vector();
  const int64_t dim = dim_value->as_int();
  if (static_cast<int64_t>(counts.size()) != images)
    fail(path, ": holds ", counts.size(), " images, its name says ", images);
  int64_t total = 0;
  for (int64_t count : counts) {
    if (count < 0 || count > (int64_t{1} << 32)) fail(path, ": an image with ", count, " features");
    total += count;
  }
  if (dim < 0 || dim > 65536 || (total > 0 && dim < 1)) fail(path, ": descriptor dimension ", dim);
  const auto column = [&](const char* name, int64_t per_feature) {
    const NdArray* array = archive.find(name);
    if (!array) fail(path, ": no '", name, "' array");
    if (array->size() != total * per_feature) {
      fail(path, ": '", name, "' has ", array->size(), " values for ", total,
           " features (expected ", total * per_feature, ")");
    }
    return array;
  };
  const std::vector<float> vecs = column("vecs", dim)->to_float();
  const std::vector<float> strengths = column("strengths", 1)->to_float();
  const std::vector<float> scales = column("scales", 1)->to_float();
  const std::vector<int64_t> heads = column("heads", 1)->to_int64();
  const std::vector<int64_t> locs = column("locs", 2)->to_int64();
  std::vector<LocalFeatures> out;
  size_t at = 0;
  for (int64_t count : counts) {
    LocalFeatures f;
    f.dim = dim;
    for (int64_t i = 0; i < count; ++i, ++at) {
      f.descriptors.insert(f.descriptors.end(),
                           vecs.begin() + static_cast<std::ptrdiff_t>(at * dim),
                           vecs.begin() + static_cast<std::ptrdiff_t>((at + 1) * dim));
      f.strengths.push_back(strengths[at]);
      f.scales.push_back(scales[at]);
      f.heads.push_back(static_cast<int32_t>(heads[at]));
      f.xs.push_back(static_cast<int32_t>(locs[2 * at]));
      f.ys.push_back(static_cast<int32_t>(locs[2 * at + 1]));
    }
    out.push_back(std::move(f));
  }
  return out;
}

void check_options(const FolderExtractionOptions& options) {
  if (options.part_size < 1) fail("part size must be positive, found ", options.part_size);
  if (options.shards < 1 || options.shard < 0 || options.shard >= options.shards)
    fail("shard ", options.shard, " of ", options.shards, " does not exist");
}

// Shards are contiguous runs of whole parts, so every run and rerun agrees on the part files.
std::pair<int64_t, int64_t> shard_parts(int64_t images, const FolderExtractionOptions& options) {
  const int64_t parts = (images + options.part_size - 1) / options.part_size;
  return {parts * options.shard / options.shards, parts * (options.shard + 1) / options.shards};
}

// What the parts are made from; two runs may share a folder only when these are equal.
Value extraction_source(const std::vector<ExtractionItem>& items,
                        const ExtractionSettings& settings, const std::string& model_file) {
  uint64_t list = 0xcbf29ce484222325ULL;
  for (const ExtractionItem& item : items) {
    const std::string line = cat(item.name, '\t', item.path, '\t', item.crop, '\t', item.box[0],
                                 ',', item.box[1], ',', item.box[2], ',', item.box[3], '\n');
    list = fnv1a64(reinterpret_cast<const uint8_t*>(line.data()), line.size(), list);
  }
  Value images = Value::empty_dict();
  images.set("count", Value(static_cast<int64_t>(items.size())));
  images.set("first", Value(items.empty() ? std::string() : items.front().path));
  images.set("fingerprint", Value(cat(std::hex, list)));
  Value model = Value::empty_dict();
  model.set("file", Value(model_file));
  if (!model_file.empty()) {
    const std::vector<uint8_t> bytes = read_file_bytes(model_file);
    model.set("fingerprint", Value(cat(std::hex, fnv1a64(bytes.data(), bytes.size()))));
  }
  Value extraction = Value::empty_dict();
  extraction.set("image_size", Value(static_cast<int64_t>(settings.image_size)));
  Value::List scales;
  for (double scale : settings.scales) scales.emplace_back(scale);
  extraction.set("scales", Value(std::move(scales)));
  extraction.set("features_num", Value(settings.features_num));
  extraction.set("selection", Value(head_selection_name(settings.selection)));
  // Recorded only when not float, so that folders of float features made before it stay valid.
  if (settings.precision != BackbonePrecision::kFloat)
    extraction.set("precision", Value(backbone_precision_name(settings.precision)));
  Value source = Value::empty_dict();
  source.set("images", images);
  source.set("model", model);
  source.set("extraction", extraction);
  return source;
}

// Records the source in a new folder, or checks it against the one recorded there.
void check_or_record_source(const std::string& out, const Value& source) {
  const std::string path = join_path(join_path(out, "parts"), "source.json");
  if (!file_exists(path)) {
    if (file_exists(join_path(out, "parts")) || file_exists(join_path(out, "vecs.npy"))) {
      fail(out,
           ": holds features without a record of what they were extracted from (an older "
           "mda); remove the folder or extract into another one");
    }
    make_dirs(join_path(out, "parts"));
    write_json(path, source);
    return;
  }
  const Value recorded = read_json(path);
  for (const char* part : {"images", "model", "extraction"}) {
    const Value* then = recorded.find(part);
    const std::string was = then ? to_json(*then, -1) : std::string("nothing");
    const std::string now = to_json(*source.find(part), -1);
    // The model is compared by content: the same model under another path is the same model.
    const bool same = std::string(part) == "model"
                          ? then && then->find("fingerprint") &&
                                source.find(part)->find("fingerprint") &&
                                to_json(*then->find("fingerprint"), -1) ==
                                    to_json(*source.find(part)->find("fingerprint"), -1)
                          : was == now;
    if (!same) {
      fail(out, ": was extracted from other ", part, " (", was, ", now ", now,
           "); use another --out or remove the folder");
    }
  }
}

}  // namespace

int64_t images_to_extract(int64_t images, const std::string& out,
                          const FolderExtractionOptions& options) {
  check_options(options);
  const auto [first_part, end_part] = shard_parts(images, options);
  int64_t todo = 0;
  for (int64_t part = first_part; part < end_part; ++part) {
    const int64_t begin = part * options.part_size,
                  end = std::min(begin + options.part_size, images);
    if (!file_exists(part_path(out, begin, end - 1))) todo += end - begin;
  }
  return todo;
}

FolderExtractionResult extract_feature_folder(MdaNetImpl& net,
                                              const std::vector<ExtractionItem>& items,
                                              const std::string& out,
                                              const ExtractionSettings& settings,
                                              const FolderExtractionOptions& options) {
  check_options(options);
  if (items.empty()) fail("nothing to extract");
  check_or_record_source(out, extraction_source(items, settings, options.model_file));
  const int64_t n = static_cast<int64_t>(items.size()), part_size = options.part_size;
  const auto [first_part, end_part] = shard_parts(n, options);
  for (int64_t part = first_part; part < end_part; ++part) {
    const int64_t begin = part * part_size, end = std::min(begin + part_size, n);
    const std::string path = part_path(out, begin, end - 1);
    if (file_exists(path)) {
      // A part that does not read back (damaged on disk, or cut by a crash of another tool) is
      // extracted again rather than failing every later assembly.
      try {
        read_part(path, end - begin);
        log_info("part ", begin, "..", end - 1, " already extracted, skipping");
        continue;
      } catch (const Error& error) {
        log_warning("part ", begin, "..", end - 1, " is damaged (", error.what(),
                    "); extracting it again");
      }
    }
    const std::vector<ExtractionItem> part_items(items.begin() + begin, items.begin() + end);
    write_part(path, extract_local_features(net, part_items, settings));
  }
  if (!options.assemble) return {};
  return assemble_feature_folder(items, out, part_size, net.architecture().heads);
}

void record_extraction_source(const std::vector<ExtractionItem>& items, const std::string& out,
                              const ExtractionSettings& settings, const std::string& model_file) {
  check_or_record_source(out, extraction_source(items, settings, model_file));
}

FolderExtractionResult assemble_feature_folder(const std::vector<ExtractionItem>& items,
                                               const std::string& out, int64_t part_size,
                                               int64_t heads) {
  if (part_size < 1) fail("part size must be positive, found ", part_size);
  const int64_t n = static_cast<int64_t>(items.size());
  FolderExtractionResult result;
  for (int64_t first = 0; first < n; first += part_size)
    result.missing_parts += !file_exists(part_path(out, first, std::min(first + part_size, n) - 1));
  if (result.missing_parts) return result;
  std::vector<LocalFeatures> all;
  for (int64_t first = 0; first < n; first += part_size) {
    const int64_t last = std::min(first + part_size, n) - 1;
    for (LocalFeatures& f : read_part(part_path(out, first, last), last - first + 1))
      all.push_back(std::move(f));
  }
  std::vector<std::string> names;
  for (const ExtractionItem& item : items) names.push_back(item.name);
  write_feature_folder(out, names, all);
  result.assembled = true;
  result.images = n;
  for (const LocalFeatures& f : all) result.features += f.count();
  result.features_per_head = count_features_per_head(all, heads);
  return result;
}

}  // namespace mda
