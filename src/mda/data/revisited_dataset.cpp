#include "mda/data/revisited_dataset.h"

#include "mda/io/json.h"
#include "mda/io/pickle.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {

std::string RevisitedDataset::image_path(const std::string& image_name) const {
  return join_path(join_path(folder, "jpg"), image_name + ".jpg");
}

void RevisitedDataset::check_images_exist() const {
  size_t missing = 0;
  std::string first;
  for (const auto* list : {&database, &queries}) {
    for (const std::string& image : *list) {
      const std::string path = image_path(image);
      if (!file_exists(path)) {
        if (missing == 0) first = path;
        ++missing;
      }
    }
  }
  if (missing > 0) {
    fail("dataset '", name, "': ", missing, " image file(s) missing, the first is '", first, "'");
  }
}

namespace {

std::vector<std::string> string_list(const Value& tree, const char* key,
                                     const std::string& source) {
  const Value* v = tree.find(key);
  if (!v) fail(source, ": ground truth has no '", key, "'");
  if (!v->is_list()) fail(source, ": '", key, "' must be a list of names, found ", v->kind_name());
  std::vector<std::string> names;
  for (size_t i = 0; i < v->as_list().size(); ++i) {
    const Value& item = v->as_list()[i];
    if (!item.is_string())
      fail(source, ": ", key, "[", i, "] is a ", item.kind_name(), ", not a name");
    names.push_back(item.as_string());
  }
  return names;
}

std::vector<int64_t> index_list(const Value& entry, const char* key, size_t query, size_t n_db,
                                const std::string& source, bool required) {
  const Value* v = entry.find(key);
  if (!v) {
    if (required) fail(source, ": gnd[", query, "] has no '", key, "'");
    return {};
  }
  std::vector<int64_t> indices;
  try {
    indices = v->to_int_vector();
  } catch (const Error& error) {
    fail(source, ": gnd[", query, "]['", key, "'] is not a list of indices: ", error.what());
  }
  for (int64_t index : indices) {
    if (index < 0 || index >= static_cast<int64_t>(n_db)) {
      fail(source, ": gnd[", query, "]['", key, "'] holds index ", index,
           ", outside the database of ", n_db, " images");
    }
  }
  return indices;
}

}  // namespace

RevisitedDataset revisited_dataset_from_value(const Value& tree, const std::string& source) {
  if (!tree.is_dict()) fail(source, ": ground truth must be a dict, found ", tree.kind_name());
  RevisitedDataset dataset;
  dataset.gnd_path = source;
  dataset.database = string_list(tree, "imlist", source);
  dataset.queries = string_list(tree, "qimlist", source);
  const Value* gnd = tree.find("gnd");
  if (!gnd) fail(source, ": ground truth has no 'gnd'");
  if (!gnd->is_list()) fail(source, ": 'gnd' must be a list, found ", gnd->kind_name());
  if (gnd->as_list().size() != dataset.queries.size()) {
    fail(source, ": 'gnd' has ", gnd->as_list().size(), " entries for ", dataset.queries.size(),
         " queries");
  }
  const size_t n_db = dataset.database.size();
  for (size_t q = 0; q < gnd->as_list().size(); ++q) {
    const Value& entry = gnd->as_list()[q];
    if (!entry.is_dict()) fail(source, ": gnd[", q, "] must be a dict, found ", entry.kind_name());
    QueryGroundTruth truth;
    if (const Value* bbx = entry.find("bbx"); bbx && !bbx->is_null()) {
      std::vector<double> box;
      try {
        box = bbx->to_double_vector();
      } catch (const Error& error) {
        fail(source, ": gnd[", q, "]['bbx'] is not a list of numbers: ", error.what());
      }
      if (box.size() != 4) fail(source, ": gnd[", q, "]['bbx'] has ", box.size(), " values, not 4");
      if (!(box[2] > box[0] && box[3] > box[1])) {
        fail(source, ": gnd[", q, "]['bbx'] = [", box[0], ", ", box[1], ", ", box[2], ", ", box[3],
             "] is empty");
      }
      for (int k = 0; k < 4; ++k) truth.bbx[static_cast<size_t>(k)] = box[static_cast<size_t>(k)];
      truth.has_bbx = true;
    }
    truth.easy = index_list(entry, "easy", q, n_db, source, true);
    truth.hard = index_list(entry, "hard", q, n_db, source, true);
    truth.junk = index_list(entry, "junk", q, n_db, source, false);
    dataset.gnd.push_back(std::move(truth));
  }
  return dataset;
}

RevisitedDataset load_revisited_dataset(const std::string& data_root, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) fail("bad dataset name '", name, "'");
  const std::string folder = join_path(data_root, name);
  const std::string pkl = join_path(folder, "gnd_" + name + ".pkl");
  const std::string json = join_path(folder, "gnd_" + name + ".json");
  RevisitedDataset dataset;
  if (file_exists(pkl)) {
    dataset = revisited_dataset_from_value(read_pickle(pkl), pkl);
  } else if (file_exists(json)) {
    dataset = revisited_dataset_from_value(read_json(json), json);
  } else {
    fail("dataset '", name, "': neither '", pkl, "' nor '", json, "' exists");
  }
  dataset.name = name;
  dataset.folder = folder;
  return dataset;
}

Value revisited_ground_truth_to_value(const RevisitedDataset& dataset) {
  const auto names = [](const std::vector<std::string>& list) {
    Value::List out;
    for (const auto& s : list) out.emplace_back(s);
    return Value(std::move(out));
  };
  const auto indices = [](const std::vector<int64_t>& list) {
    Value::List out;
    for (int64_t i : list) out.emplace_back(i);
    return Value(std::move(out));
  };
  Value::List gnd;
  for (const QueryGroundTruth& truth : dataset.gnd) {
    Value entry = Value::empty_dict();
    if (truth.has_bbx) {
      entry.set("bbx", Value(Value::List{truth.bbx[0], truth.bbx[1], truth.bbx[2], truth.bbx[3]}));
    }
    entry.set("easy", indices(truth.easy));
    entry.set("hard", indices(truth.hard));
    entry.set("junk", indices(truth.junk));
    gnd.push_back(std::move(entry));
  }
  Value tree = Value::empty_dict();
  tree.set("imlist", names(dataset.database));
  tree.set("qimlist", names(dataset.queries));
  tree.set("gnd", Value(std::move(gnd)));
  return tree;
}

}  // namespace mda
