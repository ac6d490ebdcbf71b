#include "mda/train/training_options.h"

#include "mda/asmk/asmk_config.h"
#include "mda/config/config.h"
#include "mda/util/error.h"

namespace mda {
namespace {

int64_t positive_int(const Config& config, const std::string& key) {
  const int64_t value = config.get_int(key);
  if (value < 1) fail(key, " must be at least 1, found ", value);
  return value;
}

double non_negative(const Config& config, const std::string& key) {
  const double value = config.get_double(key);
  if (!(value >= 0)) fail(key, " must be >= 0, found ", value);
  return value;
}

}  // namespace

TrainingOptions TrainingOptions::from_config(const Config& config) {
  TrainingOptions o;
  o.manifest = config.get_string("training.manifest");
  o.image_folder = config.get_string("training.image_folder");
  o.image_extension = config.get_string("training.image_extension");
  o.out = config.get_string("training.out");
  if (o.out.empty()) o.out = "runs/train";
  o.epochs = config.get_int("training.epochs");  // 0: only T's initialisation (and validation)
  if (o.epochs < 0) fail("training.epochs must be >= 0, found ", o.epochs);
  o.qsize = positive_int(config, "training.qsize");
  o.poolsize = positive_int(config, "training.poolsize");
  o.nnum = positive_int(config, "training.nnum");
  o.batch_tuples = positive_int(config, "training.batch_tuples");
  o.image_size = positive_int(config, "training.image_size");
  o.margin = non_negative(config, "training.margin");
  o.diversity_weight = non_negative(config, "training.diversity_weight");
  o.lr = non_negative(config, "training.optimizer.lr");
  o.attention_lr = non_negative(config, "training.optimizer.attention_lr");
  o.weight_decay = non_negative(config, "training.optimizer.weight_decay");
  o.lr_decay = config.get_double("training.optimizer.lr_decay");
  if (!(o.lr_decay > 0 && o.lr_decay <= 1))
    fail("training.optimizer.lr_decay must be in (0, 1], found ", o.lr_decay);
  o.reduction_init = config.get_string("training.reduction.init");
  if (o.reduction_init != "pca" && o.reduction_init != "keep")
    fail("training.reduction.init must be pca or keep, found '", o.reduction_init, "'");
  o.freeze_reduction = config.get_bool("training.reduction.freeze");
  o.whitening_images = positive_int(config, "training.reduction.images");
  o.whitening_features = positive_int(config, "training.reduction.features");
  o.augmentation.enabled = config.get_bool("training.augmentation.enabled");
  o.augmentation.crop_min_area = config.get_double("training.augmentation.crop_min_area");
  const std::vector<double> scale = config.get_doubles("training.augmentation.scale");
  if (scale.size() != 2)
    fail("training.augmentation.scale must be [min, max], found ", scale.size(), " values");
  o.augmentation.scale_min = scale[0];
  o.augmentation.scale_max = scale[1];
  o.augmentation.color_jitter = config.get_double("training.augmentation.color_jitter");
  o.augmentation.validate();
  o.mixed_precision = config.get_bool("training.mixed_precision");
  const int64_t seed = config.get_int("training.seed");
  if (seed < 0) fail("training.seed must be >= 0, found ", seed);
  o.seed = static_cast<uint64_t>(seed);

  ValidationOptions& v = o.validation;
  v.data_root = config.get_string("training.validation.data_root");
  v.dataset = config.get_string("training.validation.dataset");
  if (v.enabled() && v.data_root.empty())
    fail("training.validation.dataset is set ('", v.dataset, "') but data_root is empty");
  v.every = positive_int(config, "training.validation.every");
  v.method = config.get_string("training.validation.method");
  if (v.method != "asmk" && v.method != "global")
    fail("training.validation.method must be asmk or global, found '", v.method, "'");
  v.image_size = positive_int(config, "training.validation.image_size");
  v.scales = config.get_doubles("training.validation.scales");
  if (v.scales.empty()) fail("training.validation.scales must list at least one scale");
  for (double s : v.scales)
    if (!(s > 0)) fail("training.validation.scales must be positive, found ", s);
  v.features_num = positive_int(config, "training.validation.features_num");
  v.asmk = asmk_options_from_config(config);
  v.asmk.codebook.k = positive_int(config, "training.validation.codebook_size");
  v.selection = parse_head_selection(config.get_string("training.validation.selection"),
                                     "training.validation.selection");
  return o;
}

}  // namespace mda
