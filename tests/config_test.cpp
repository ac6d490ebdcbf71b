#include "mda/config/config.h"

#include <gtest/gtest.h>

#include "mda/io/yaml.h"
#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

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
