// mda demo: the first thing a newcomer runs. With nothing but the project it builds small
// procedural datasets in the Revisited layout (one to train on, one to validate on, one to
// evaluate on: different objects each), trains a small MDA on the CPU, and runs extraction,
// codebook, index, search and evaluation for the untrained and the trained network, beside a
// thumbnail baseline, then prints the comparison.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "mda/asmk/asmk_ranking.h"
#include "mda/cli/command_context.h"
#include "mda/data/image_list.h"
#include "mda/data/synthetic_dataset.h"
#include "mda/eval/evaluation_report.h"
#include "mda/features/thumbnail_descriptor.h"
#include "mda/image/codec.h"
#include "mda/image/image_stream.h"
#include "mda/image/transform.h"
#include "mda/io/json.h"
#include "mda/io/npy.h"
#include "mda/net/feature_extraction.h"
#include "mda/net/model_file.h"
#include "mda/report/report_writer.h"
#include "mda/train/trainer.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The 8x8 colour-thumbnail baseline: a global descriptor with no learning at all.
Ranking thumbnail_ranking(const RevisitedDataset& dataset, const ImageStreamOptions& stream) {
  const auto describe = [&](const std::vector<ExtractionItem>& items) {
    std::vector<std::vector<float>> out(items.size(), std::vector<float>(8 * 8 * 3, 0.0f));
    for_each_image(
        item_paths(items), stream,
        [&](size_t i, const Image& image) { out[i] = thumbnail_descriptor(image); },
        [&](size_t i, Image image) { return items[i].crop ? crop(image, items[i].box) : image; });
    return out;
  };
  const auto db = describe(revisited_items(dataset, "db"));
  const auto queries = describe(revisited_items(dataset, "queries"));
  std::vector<float> scores(queries.size() * db.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    for (size_t d = 0; d < db.size(); ++d) {
      float s = 0;
      for (size_t k = 0; k < db[d].size(); ++k) s += queries[q][k] * db[d][k];
      scores[q * db.size() + d] = s;
    }
  }
  return rank_by_scores(scores, static_cast<int64_t>(queries.size()),
                        static_cast<int64_t>(db.size()));
}

struct DemoMethod {
  std::string key, title;
  Ranking ranking;
  Evaluation evaluation;
  double seconds = 0;
};

std::string table_row(const DemoMethod& method) {
  std::string row = method.title;
  row.resize(std::max<size_t>(row.size() + 1, 44), ' ');
  for (const ProtocolResult& p : method.evaluation.protocols) {
    char cell[16];
    if (p.applicable()) {
      std::snprintf(cell, sizeof cell, "%8.2f", 100.0 * p.map);
    } else {
      std::snprintf(cell, sizeof cell, "%8s", "n/a");
    }
    row += cell;
  }
  return row;
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  ArgParser parser(
      "demo",
      "Builds small procedural datasets (Revisited layout, ground truth from their "
      "construction), trains a\nsmall MDA (ResNet-18 up to layer2, 4 heads, 32-d) on them on "
      "the CPU, and runs extraction -> codebook\n-> index -> search -> evaluation for the "
      "untrained and the trained network and a thumbnail baseline.\nPrints Easy/Medium/Hard "
      "mAP of each; writes OUT/results/{ranks*.npy, metrics.json} and OUT/train/.");
  parser
      .option("--out", "DIR", "output folder (datasets, training run, rankings, metrics)",
              "demo_out")
      .option("--objects", "N",
              "objects of the evaluated dataset (the training set has twice as many)", "24")
      .option("--epochs", "N", "training epochs (40 tuples each)", "8")
      .option("--seed", "N", "seed of the datasets and of the training", "0")
      .config_sections({"runtime.", "evaluation.kappas"});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  if (!image_codecs_available())
    fail("the demo needs image support: rebuild with libstb-dev installed");
  const int64_t objects = parser.get_int("--objects");
  const int64_t epochs = parser.get_int("--epochs");
  const int64_t seed = parser.get_int("--seed");
  if (objects < 2 || epochs < 0 || seed < 0)
    throw UsageError("mda demo: needs --objects >= 2, --epochs >= 0 and --seed >= 0");
  at::set_num_threads(resolve_threads(config));
  const auto start = Clock::now();

  // Three datasets of different objects: training, validation, evaluation.
  const std::string out = parser.get("--out");
  const std::string data_root = join_path(out, "data");
  SyntheticDatasetOptions data;
  data.width = 128;
  data.height = 96;
  const auto make = [&](const std::string& name, int64_t count, uint64_t offset) {
    data.objects = data.distractors = static_cast<int>(count);
    data.seed = static_cast<uint64_t>(seed) * 3 + offset;
    return write_synthetic_dataset(data_root, name, data);
  };
  log_info("building the built-in datasets in ", data_root);
  const RevisitedDataset dataset = make("synthetic", objects, 0);
  const RevisitedDataset training_set = make("synthetic_train", 2 * objects, 1);
  make("synthetic_val", std::max<int64_t>(objects / 2, 2), 2);
  const TrainingManifest manifest =
      read_training_manifest(write_synthetic_training_manifest(training_set));

  ImageStreamOptions stream;
  stream.threads = static_cast<int>(config.get_int("runtime.decode_threads"));
  stream.on_bad_image = BadImagePolicy::kFail;
  std::vector<DemoMethod> methods;
  {
    DemoMethod thumbnail{"thumbnail", "thumbnail baseline (8x8 colours, cosine)", {}, {}, 0};
    const auto t = Clock::now();
    thumbnail.ranking = thumbnail_ranking(dataset, stream);
    thumbnail.seconds = seconds_since(t);
    methods.push_back(std::move(thumbnail));
  }

  // Train a small MDA from scratch (no pretrained weights are needed or downloaded).
  MdaArchitecture architecture;
  architecture.backbone = "resnet18";
  architecture.skip_layer = 2;
  architecture.heads = 4;
  architecture.dim = 32;
  TrainingOptions training;
  training.out = join_path(out, "train");
  training.epochs = epochs;
  training.qsize = 40;
  training.poolsize = 200;
  training.image_size = 128;
  training.lr = 3e-5;
  training.attention_lr = 1e-3;
  training.whitening_images = 200;
  training.seed = static_cast<uint64_t>(seed);
  training.validation.data_root = data_root;
  training.validation.dataset = "synthetic_val";
  training.validation.method = "global";
  training.validation.image_size = 128;
  training.validation.every = 2;
  torch::manual_seed(training.seed);
  MdaNet net(architecture);
  TrainingRun run;
  run.decode_threads = stream.threads;
  run.resume = file_exists(join_path(training.out, "checkpoint.pt"));
  run.config_yaml = cat("# mda demo\nobjects: ", objects, "\nseed: ", seed, "\n");
  {
    const auto t = Clock::now();
    log_info("training ", architecture.short_name(), " for ", epochs, " epochs on ",
             manifest.names.size(), " images (", training.out, ")");
    train_mda(net, manifest, training, run);
    log_info("training took ", format_duration(seconds_since(t)));
  }

  // Retrieval with ASMK*: the codebook comes from the training images, never the evaluated ones.
  ExtractionSettings extraction;
  extraction.image_size = 128;
  extraction.scales = {1.0, 0.707};
  extraction.features_num = 100;
  extraction.stream = stream;
  AsmkEvaluationOptions asmk;
  asmk.codebook.k = 128;
  asmk.codebook.threads = asmk.search.threads = resolve_threads(config);
  for (const auto& [key, title, file] : std::vector<std::array<std::string, 3>>{
           {"untrained", "MDA untrained (T = PCA-whitening), ASMK*", "initial.mdam"},
           {"trained", cat("MDA trained ", epochs, " epochs, ASMK*"), "best.mdam"}}) {
    const auto t = Clock::now();
    MdaNet model = load_model_for_inference(join_path(training.out, file), torch::kCPU);
    log_info("retrieval with the ", key, " network ...");
    const std::vector<LocalFeatures> db =
        extract_local_features(*model, revisited_items(dataset, "db"), extraction);
    const std::vector<LocalFeatures> queries =
        extract_local_features(*model, revisited_items(dataset, "queries"), extraction);
    ExtractionSettings codebook_extraction = extraction;
    codebook_extraction.scales = {1.0};
    const std::vector<LocalFeatures> codebook_features =
        extract_local_features(*model, revisited_items(training_set, "db"), codebook_extraction);
    DemoMethod method{key, title, {}, {}, 0};
    method.ranking = asmk_full_ranking(db, queries, asmk, &codebook_features);
    method.seconds = seconds_since(t);
    methods.push_back(std::move(method));
  }

  const std::vector<int64_t> kappas = config.get_ints("evaluation.kappas");
  const std::string results = join_path(out, "results");
  Value report = Value::empty_dict();
  Value method_values = Value::empty_dict();
  for (DemoMethod& method : methods) {
    method.evaluation = evaluate_revisited(method.ranking, dataset.gnd, kappas);
    write_npy(join_path(results, "ranks_" + method.key + ".npy"),
              NdArray::from_vector(method.ranking.ranks,
                                   {method.ranking.n_db, method.ranking.n_queries}));
    Value entry = Value::empty_dict();
    entry.set("title", Value(method.title));
    entry.set("seconds", Value(method.seconds));
    entry.set("protocols", evaluation_to_value(method.evaluation));
    method_values.set(method.key, entry);
  }
  const DemoMethod& trained = methods.back();
  write_npy(join_path(results, "ranks.npy"),
            NdArray::from_vector(trained.ranking.ranks,
                                 {trained.ranking.n_db, trained.ranking.n_queries}));
  report.set("dataset", Value(dataset.folder));
  report.set("methods", method_values);
  report.set("seconds", Value(seconds_since(start)));
  const std::string metrics = join_path(results, "metrics.json");
  write_json(metrics, report);
  config.save(sidecar_config_path(metrics));

  ReportRequest request;
  request.title = "mda demo: MDA trained on the built-in data";
  request.dataset = &dataset;
  request.ranking = trained.ranking;
  request.model = join_path(training.out, "best.mdam");
  request.attention_images = {dataset.database.at(0), dataset.database.at(1)};
  request.image_size = extraction.image_size;
  request.scales = extraction.scales;
  request.features_num = extraction.features_num;
  request.selection = extraction.selection;
  request.training_folder = training.out;
  request.configuration = "# demo\n" + config.to_yaml();
  Value timings = Value::empty_dict();
  for (const DemoMethod& method : methods) timings.set(method.key, Value(method.seconds));
  timings.set("total", Value(seconds_since(start)));
  request.timings = timings;
  request.queries = 12;
  const std::string report_path = join_path(out, "report.html");
  write_report(report_path, request);

  std::cout << "\nBuilt-in dataset: " << dataset.queries.size() << " queries, "
            << dataset.database.size() << " database images (" << dataset.folder << ");\n"
            << "trained on " << manifest.names.size() << " images of other objects ("
            << training_set.folder << ")\n\n";
  std::string header = "method";
  header.resize(44, ' ');
  std::cout << header << "    easy  medium    hard   (mAP %)\n";
  for (const DemoMethod& method : methods) std::cout << table_row(method) << "\n";
  std::cout << "\nrankings: " << results
            << "/ranks_*.npy (ranks.npy = trained)\nmetrics:  " << metrics
            << "\ntraining: " << join_path(training.out, "history.json")
            << "\nreport:   " << report_path << " (open it in a browser)\n"
            << "total time " << format_duration(seconds_since(start)) << "\n";
  return 0;
}

}  // namespace mda
