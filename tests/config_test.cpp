#include "mda/config/config.h"

#include <gtest/gtest.h>

#include "mda/config/stage_options.h"
#include "mda/io/yaml.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

// Each default is written once, in mda/options.h; configs/default.yml (and so --help, which prints
// it) must carry the same values.
TEST(StageOptions, DefaultYmlAgreesWithTheTypedOptionsDefaults) {
  const Config config;
  const ExtractionOptions extraction = extraction_options_from_config(config), e;
  EXPECT_EQ(extraction.image_size, e.image_size);
  EXPECT_EQ(extraction.scales, e.scales);
  EXPECT_EQ(extraction.features_num, e.features_num);
  EXPECT_EQ(extraction.selection, e.selection);
  EXPECT_EQ(extraction.threads, e.threads);
  EXPECT_EQ(extraction.decode_threads, e.decode_threads);
  EXPECT_EQ(extraction.on_bad_image, e.on_bad_image);
  const KMeansOptions kmeans = kmeans_options_from_config(config), k;
  EXPECT_EQ(kmeans.k, k.k);
  EXPECT_EQ(kmeans.iterations, k.iterations);
  EXPECT_EQ(kmeans.max_points_per_centroid, k.max_points_per_centroid);
  EXPECT_EQ(kmeans.seed, k.seed);
  EXPECT_EQ(kmeans.device, k.device);
  const IndexOptions index = index_options_from_config(config), i;
  EXPECT_EQ(index.binary, i.binary);
  EXPECT_EQ(index.multiple_assignment, i.multiple_assignment);
  const SearchOptions search = search_options_from_config(config), s;
  EXPECT_EQ(search.multiple_assignment, s.multiple_assignment);
  EXPECT_EQ(search.alpha, s.alpha);
  EXPECT_EQ(search.similarity_threshold, s.similarity_threshold);
  EXPECT_EQ(search.use_idf, s.use_idf);
  EXPECT_EQ(search.topk, s.topk);
}

TEST(StageOptions, OutOfRangeValuesAreErrorsNamingTheKey) {
  const auto with = [](const std::string& assignment) {
    Config config;
    config.set_override(assignment);
    return config;
  };
  test::expect_error([&] { extraction_options_from_config(with("evaluation.features_num=0")); },
                     {"evaluation.features_num", "0"});
  test::expect_error([&] { extraction_options_from_config(with("evaluation.scales=[1.0, -2]")); },
                     {"evaluation.scales", "-2"});
  test::expect_error([&] { extraction_options_from_config(with("runtime.decode_threads=-1")); },
                     {"runtime.decode_threads", "-1"});
  test::expect_error([&] { kmeans_options_from_config(with("train_codebook.codebook.niter=0")); },
                     {"train_codebook.codebook.niter"});
  test::expect_error(
      [&] {
        kmeans_options_from_config(with("train_codebook.codebook.max_points_per_centroid=-3"));
      },
      {"max_points_per_centroid", "-3"});
  test::expect_error([&] { search_options_from_config(with("query_ivf.similarity.alpha=-1")); },
                     {"query_ivf.similarity.alpha", "-1"});
  test::expect_error([&] { search_options_from_config(with("query_ivf.search.topk=0")); },
                     {"query_ivf.search.topk"});
}

TEST(Config, ACopyChangesIndependentlyOfTheOriginal) {
  Config original;
  Config copy = original;
  copy.set_override("evaluation.scales=[1.0]");
  EXPECT_EQ(copy.get_doubles("evaluation.scales"), std::vector<double>{1.0});
  EXPECT_EQ(original.get_doubles("evaluation.scales").size(), 7u);
  Config assigned;
  assigned = copy;
  assigned.set_override("evaluation.features_num=5");
  EXPECT_EQ(copy.get_int("evaluation.features_num"), 1000);
}

TEST(Config, DefaultsParseAndHaveHowAsmkNames) {
  const Config config;
  EXPECT_EQ(config.get_int("train_codebook.codebook.size"), 65536);
  EXPECT_EQ(config.get_int("query_ivf.quantize.multiple_assignment"), 5);
  EXPECT_EQ(config.get_int("build_ivf.quantize.multiple_assignment"), 1);
  EXPECT_DOUBLE_EQ(config.get_double("query_ivf.similarity.alpha"), 3.0);
  EXPECT_EQ(config.get_doubles("evaluation.scales").size(), 7u);
  EXPECT_TRUE(config.get_bool("build_ivf.kernel.binary"));
}

TEST(Config, DocsListEveryLeafWithDefaultAndComment) {
  bool found = false;
  for (const ConfigKeyDoc& doc : default_config_docs()) {
    if (doc.key == "evaluation.features_num") {
      found = true;
      EXPECT_EQ(doc.default_text, "1000");
      EXPECT_NE(doc.comment.find("local features"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  // Every documented key exists in the parsed defaults.
  const Config config;
  for (const ConfigKeyDoc& doc : default_config_docs())
    EXPECT_NO_THROW(config.at(doc.key)) << doc.key;
}

TEST(Config, TemplatesOverridesAndChecks) {
  test::TempDir dir;
  write_file_atomic(dir.path("base.yml"), "evaluation:\n  features_num: 500\n  image_size: 512\n");
  write_file_atomic(dir.path("child.yml"),
                    "__template__: base.yml\nevaluation:\n  features_num: 200\n");
  Config config;
  config.merge_file(dir.path("child.yml"));
  EXPECT_EQ(config.get_int("evaluation.features_num"), 200);  // child wins
  EXPECT_EQ(config.get_int("evaluation.image_size"), 512);    // inherited
  EXPECT_EQ(config.get_int("model.heads"), 8);                // default kept

  config.set_override("model.heads=4");
  config.set_override("evaluation.scales=[1, 0.5]");
  config.set_override("query_ivf.similarity.alpha=2");  // int promoted to float
  config.set_override("query_ivf.search.topk=100");     // null default takes any kind
  EXPECT_EQ(config.get_int("model.heads"), 4);
  EXPECT_EQ(config.get_doubles("evaluation.scales"), (std::vector<double>{1.0, 0.5}));
  EXPECT_TRUE(config.at("query_ivf.similarity.alpha").is_float());
  EXPECT_EQ(config.get_int("query_ivf.search.topk"), 100);

  test::expect_error([&] { config.set_override("model.haeds=4"); },
                     {"unknown configuration key 'model.haeds'", "heads"});
  test::expect_error([&] { config.set_override("model.heads=many"); },
                     {"model.heads", "expects a int", "string"});
  test::expect_error([&] { config.set_override("model.heads"); }, {"section.key=value"});
  test::expect_error([&] { config.get_int("model.nothing"); }, {"model.nothing"});

  // The saved effective configuration reads back to the same tree.
  config.save(dir.path("effective.yml"));
  EXPECT_EQ(read_yaml(dir.path("effective.yml")), config.root());
}

TEST(Config, TemplateCycleAndMissingFileAreErrors) {
  test::TempDir dir;
  write_file_atomic(dir.path("a.yml"), "__template__: b.yml\n");
  write_file_atomic(dir.path("b.yml"), "__template__: a.yml\n");
  test::expect_error([&] { load_config_file(dir.path("a.yml")); }, {"cycle"});
  test::expect_error([&] { load_config_file(dir.path("none.yml")); },
                     {"none.yml", "does not exist"});
  write_file_atomic(dir.path("typo.yml"), "evaluaton:\n  features_num: 3\n");
  Config config;
  test::expect_error([&] { config.merge_file(dir.path("typo.yml")); }, {"typo.yml", "'evaluaton'"});
}

}  // namespace
}  // namespace mda
