#include "mda/train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "mda/data/revisited_dataset.h"
#include "mda/eval/evaluation_report.h"
#include "mda/image/transform.h"
#include "mda/io/json.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/losses.h"
#include "mda/net/model_file.h"
#include "mda/train/augmentation.h"
#include "mda/train/checkpoint.h"
#include "mda/train/tuple_mining.h"
#include "mda/train/validation.h"
#include "mda/train/whitening_initialisation.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/progress.h"
#include "mda/util/random.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Every epoch draws from its own seed, so a resumed run repeats exactly what an uninterrupted one
// would have done.
uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  SplitMix64 mix(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) + 1);
  return mix.next();
}

// Training mode for the heads, evaluation mode (frozen running statistics) for the backbone's
// batch normalisation, as HOW.
void set_training_mode(MdaNetImpl& net) {
  net.train();
  for (const auto& module : net.backbone()->modules(/*include_self=*/true)) {
    if (dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get())) module->eval();
  }
}

// libtorch 2.4 replaced the CUDA-only autocast calls by calls naming the device.
#define MDA_AUTOCAST_PER_DEVICE \
  (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if MDA_AUTOCAST_PER_DEVICE
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);  // no loss scaling needed
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);  // no loss scaling needed
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastScope() {
    if (!enabled_) return;
#if MDA_AUTOCAST_PER_DEVICE
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

}  // namespace

TrainingSummary train_mda(MdaNet net, const TrainingManifest& manifest,
                          const TrainingOptions& options, const TrainingRun& run) {
  if (options.mixed_precision && !run.device.is_cuda())
    fail("training.mixed_precision needs --device cuda (bfloat16 autocast is CUDA-only here)");
  const int64_t n_images = static_cast<int64_t>(manifest.names.size());
  if (n_images < 2) fail(manifest.path, ": training needs at least two images");
  const int64_t tuples = options.qsize / options.batch_tuples * options.batch_tuples;
  if (tuples == 0) {
    fail("training.qsize (", options.qsize, ") is smaller than training.batch_tuples (",
         options.batch_tuples, ")");
  }
  std::unique_ptr<RevisitedDataset> validation_set;
  if (options.validation.enabled()) {
    validation_set = std::make_unique<RevisitedDataset>(
        load_revisited_dataset(options.validation.data_root, options.validation.dataset));
    validation_set->check_images_exist();
  }
  const std::string& out = options.out;
  make_dirs(out);
  const std::string checkpoint_path = join_path(out, "checkpoint.pt");
  const std::string config_path = join_path(out, "train.config.yaml");
  if (run.resume) {
    if (file_exists(config_path) &&
        comparable_config(read_file_text(config_path)) != comparable_config(run.config_yaml)) {
      fail(out, ": --resume with another configuration than the run's (", config_path,
           "); only training.epochs may change");
    }
  } else if (file_exists(checkpoint_path)) {
    fail(out, ": holds a training run (", checkpoint_path,
         "); continue it with --resume or choose another training.out");
  }

  net->to(run.device);
  ExtractionSettings settings;
  settings.image_size = static_cast<int>(options.image_size);
  settings.device = run.device;
  settings.stream.threads = run.decode_threads;
  const int threads = std::max(1, at::get_num_threads());

  // Parameter groups: backbone, reduction T (unless frozen), attention branch.
  std::vector<torch::Tensor> attention = net->attention_parameters();
  std::vector<torch::Tensor> reduction = net->reduction_parameters();
  std::vector<torch::Tensor> backbone = net->backbone()->parameters();
  for (torch::Tensor& p : reduction) p.set_requires_grad(!options.freeze_reduction);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto group = [&](std::vector<torch::Tensor> params, double lr) {
    groups.emplace_back(std::move(params),
                        std::make_unique<torch::optim::AdamOptions>(
                            torch::optim::AdamOptions(lr).weight_decay(options.weight_decay)));
  };
  std::vector<double> base_lr;
  group(backbone, options.lr);
  base_lr.push_back(options.lr);
  if (!options.freeze_reduction) {
    group(reduction, options.lr);
    base_lr.push_back(options.lr);
  }
  if (!attention.empty()) {
    group(attention, options.attention_lr);
    base_lr.push_back(options.attention_lr);
  }
  torch::optim::Adam optimizer(
      std::move(groups), torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));

  Checkpoint state;
  state.history = Value::empty_dict();
  state.history.set("steps", Value::empty_list());
  state.history.set("epochs", Value::empty_list());
  state.history.set("validation", Value::empty_list());
  const auto record_validation = [&](int64_t epoch) {
    const auto start = Clock::now();
    log_info("validation on ", validation_set->name, " (", options.validation.method, ") ...");
    const ValidationResult result =
        validate(*net, *validation_set, options.validation, settings, threads);
    const Evaluation& evaluation = result.evaluation;
    Value entry = evaluation_summary(evaluation);
    entry.set("epoch", Value(epoch));
    entry.set("heads", result.heads.to_value());
    log_info("heads after epoch ", epoch, " on ", validation_set->name, ": ",
             result.heads.summary());
    entry.set("seconds", Value(seconds_since(start)));
    state.history.find("validation")->as_list().push_back(entry);
    const double map = medium_map(evaluation);
    log_info("validation after epoch ", epoch, ": ", format_evaluation_table(evaluation));
    if (map > state.best_map) {
      state.best_map = map;
      Value meta = Value::empty_dict();
      meta.set("epoch", Value(epoch));
      meta.set("validation_medium_map", Value(map));
      save_model(join_path(out, "best.mdam"), *net, meta);
      log_info("best model so far (Medium mAP ", map, "): ", join_path(out, "best.mdam"));
    }
  };

  // Model files and history first: the checkpoint, written last, is what a resume trusts.
  const auto save_state = [&] {
    Value meta = Value::empty_dict();
    meta.set("epoch", Value(state.epochs_done));
    save_model(join_path(out, "last.mdam"), *net, meta);
    if (!validation_set) save_model(join_path(out, "best.mdam"), *net, meta);
    write_json(join_path(out, "history.json"), state.history);
    save_checkpoint(checkpoint_path, *net, optimizer, state);
  };

  write_file_atomic(config_path, run.config_yaml);
  if (run.resume) {
    state = load_checkpoint(checkpoint_path, *net, optimizer, run.device);
    log_info("resuming ", out, " after epoch ", state.epochs_done);
  } else {
    if (options.reduction_init == "pca") initialise_reduction(*net, manifest, options, settings);
    Value initial = Value::empty_dict();
    initial.set("epoch", Value(int64_t{0}));
    save_model(join_path(out, "initial.mdam"), *net, initial);
    if (validation_set) record_validation(0);
    save_state();  // epoch 0: the initialised network, resumable without redoing the whitening
  }

  int64_t epochs_this_call = 0;
  for (int64_t epoch = state.epochs_done; epoch < options.epochs; ++epoch) {
    if (run.stop_after > 0 && epochs_this_call >= run.stop_after) {
      log_info("stopping after ", epochs_this_call, " epoch(s) as asked (--stop-after)");
      break;
    }
    const auto epoch_start = Clock::now();
    const uint64_t seed = epoch_seed(options.seed, epoch);
    SplitMix64 rng(seed);
    torch::manual_seed(seed);
    const double decay = std::pow(options.lr_decay, static_cast<double>(epoch));
    for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
      static_cast<torch::optim::AdamOptions&>(optimizer.param_groups()[g].options())
          .lr(base_lr[g] * decay);
    }

    // Tuples: (query, positive) pairs and hard negatives mined with the current network.
    const auto mining_start = Clock::now();
    const std::vector<std::pair<int64_t, int64_t>> pairs =
        draw_query_pairs(manifest.labels, options.qsize, rng);
    const std::vector<int64_t> pool = draw_negative_pool(n_images, options.poolsize, rng);
    std::vector<int64_t> query_images;
    for (const auto& [q, p] : pairs) query_images.push_back(q);
    // Describe every distinct image once.
    std::vector<int64_t> distinct = query_images;
    distinct.insert(distinct.end(), pool.begin(), pool.end());
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    net->eval();
    torch::Tensor descriptors;
    {
      Progress progress(cat("epoch ", epoch + 1, " mining"), static_cast<int64_t>(distinct.size()),
                        "img");
      ExtractionSettings mining = settings;
      mining.stream.progress = &progress;
      descriptors = extract_global_descriptors(*net, manifest_items(manifest, distinct), mining);
    }
    const int64_t dim = descriptors.size(1);
    std::vector<int64_t> row_of(static_cast<size_t>(n_images), -1);
    for (size_t r = 0; r < distinct.size(); ++r) row_of[static_cast<size_t>(distinct[r])] = r;
    const auto gather = [&](const std::vector<int64_t>& images) {
      std::vector<float> out_rows;
      out_rows.reserve(images.size() * static_cast<size_t>(dim));
      for (int64_t image : images) {
        const float* row = descriptors.data_ptr<float>() + row_of[static_cast<size_t>(image)] * dim;
        out_rows.insert(out_rows.end(), row, row + dim);
      }
      return out_rows;
    };
    const MinedNegatives mined = mine_hard_negatives(
        gather(query_images), query_images, gather(pool), pool, dim, manifest.labels, options.nnum);
    const double mining_seconds = seconds_since(mining_start);
    log_info("epoch ", epoch + 1, ": mined ", options.nnum, " negatives for ", pairs.size(),
             " queries from ", pool.size(), " images in ", format_duration(mining_seconds),
             ", mean query-negative distance ", mined.mean_distance);
    if (mined.short_queries > 0) {
      log_warning(mined.short_queries, " queries got fewer than ", options.nnum,
                  " negatives: the pool holds too few other labels");
    }

    // The epoch's images in tuple order, each with its own augmentation seed.
    std::vector<int64_t> slot_image, slot_tuple;
    std::vector<size_t> tuple_end;
    for (int64_t t = 0; t < tuples; ++t) {
      const size_t tt = static_cast<size_t>(t);
      slot_image.push_back(pairs[tt].first);
      slot_image.push_back(pairs[tt].second);
      for (int64_t n : mined.negatives[tt]) slot_image.push_back(n);
      slot_tuple.resize(slot_image.size(), t);
      tuple_end.push_back(slot_image.size());
    }
    std::vector<uint64_t> slot_seed(slot_image.size());
    for (uint64_t& s : slot_seed) s = rng.next();

    set_training_mode(*net);
    optimizer.zero_grad();
    std::vector<torch::Tensor> pooled, regs;
    double step_contrastive = 0, step_diversity = 0;
    double epoch_contrastive = 0, epoch_diversity = 0;
    int64_t step = 0;
    Value& steps = *state.history.find("steps");
    Progress progress(cat("epoch ", epoch + 1, "/", options.epochs),
                      static_cast<int64_t>(slot_image.size()), "img");
    ImageStreamOptions stream = settings.stream;
    stream.on_bad_image = BadImagePolicy::kFail;
    stream.progress = &progress;
    for_each_image(
        item_paths(manifest_items(manifest, slot_image)), stream,
        [&](size_t slot, const Image& image) {
          const int64_t t = slot_tuple[slot];
          {
            AutocastScope autocast(options.mixed_precision);
            AttentionMaps maps = net->forward(image_tensor(image, run.device));
            // Losses in float32 whatever precision autocast ran the network in.
            maps.attention = maps.attention.to(torch::kFloat32);
            maps.descriptors = maps.descriptors.to(torch::kFloat32);
            pooled.push_back(MdaNetImpl::pooled_descriptors(maps)[0]);
            regs.push_back(diversity_regularizer(maps.attention));
          }
          if (slot + 1 != tuple_end[static_cast<size_t>(t)]) return;
          std::vector<int> labels(pooled.size() - 1, 0);
          labels[0] = 1;
          const torch::Tensor others =
              torch::stack(std::vector<torch::Tensor>(pooled.begin() + 1, pooled.end()));
          const torch::Tensor contrastive =
              contrastive_loss(pooled[0], others, labels, options.margin);
          const torch::Tensor diversity = torch::stack(regs).mean();
          const torch::Tensor loss = contrastive + options.diversity_weight * diversity;
          loss.backward();
          pooled.clear();
          regs.clear();
          step_contrastive += contrastive.item<double>();
          step_diversity += diversity.item<double>();
          if ((t + 1) % options.batch_tuples != 0) return;
          optimizer.step();
          optimizer.zero_grad();
          const double b = static_cast<double>(options.batch_tuples);
          Value entry = Value::empty_dict();
          entry.set("epoch", Value(epoch + 1));
          entry.set("step", Value(++step));
          entry.set("contrastive", Value(step_contrastive / b));
          entry.set("diversity", Value(step_diversity / b));
          steps.as_list().push_back(entry);
          log_debug("epoch ", epoch + 1, " step ", step, ": contrastive ", step_contrastive / b,
                    ", diversity ", step_diversity / b);
          epoch_contrastive += step_contrastive;
          epoch_diversity += step_diversity;
          step_contrastive = step_diversity = 0;
        },
        [&](size_t slot, Image image) {
          SplitMix64 augmentation_rng(slot_seed[slot]);
          return augment_image(resize_max_side(image, static_cast<int>(options.image_size)),
                               options.augmentation, augmentation_rng);
        });
    progress.finish();

    const double n_tuples = static_cast<double>(tuples);
    Value entry = Value::empty_dict();
    entry.set("epoch", Value(epoch + 1));
    entry.set("contrastive", Value(epoch_contrastive / n_tuples));
    entry.set("diversity", Value(epoch_diversity / n_tuples));
    entry.set("mean_negative_distance", Value(mined.mean_distance));
    entry.set("mining_seconds", Value(mining_seconds));
    entry.set("lr", Value(base_lr[0] * decay));
    entry.set("seconds", Value(seconds_since(epoch_start)));
    state.history.find("epochs")->as_list().push_back(entry);
    log_info("epoch ", epoch + 1, "/", options.epochs, ": contrastive ",
             epoch_contrastive / n_tuples, ", diversity ", epoch_diversity / n_tuples, " (",
             format_duration(seconds_since(epoch_start)), ")");
    state.epochs_done = epoch + 1;
    ++epochs_this_call;
    if (validation_set &&
        (state.epochs_done % options.validation.every == 0 || state.epochs_done == options.epochs))
      record_validation(state.epochs_done);

    save_state();
  }
  if (state.epochs_done >= options.epochs) log_info("training done: ", options.epochs, " epochs");
  TrainingSummary summary;
  summary.epochs_done = state.epochs_done;
  summary.best_validation_map = state.best_map;
  summary.history = state.history;
  return summary;
}

}  // namespace mda
