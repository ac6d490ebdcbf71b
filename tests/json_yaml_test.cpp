#include <gtest/gtest.h>

#include <cmath>

#include "mda/io/json.h"
#include "mda/io/yaml.h"
#include "test_helpers.h"

namespace mda {
namespace {

TEST(Yaml, DeepNestingIsAnErrorNotAStackOverflow) {
  test::expect_error(
      [] { parse_yaml("key: " + std::string(100000, '[') + std::string(100000, ']'), "flow.yml"); },
      {"flow.yml", "nesting deeper than 256 levels"});
  std::string block;
  for (int level = 0; level < 300; ++level) block += std::string(2 * level, ' ') + "k:\n";
  test::expect_error([&] { parse_yaml(block, "block.yml"); },
                     {"block.yml", "nesting deeper than 256 levels"});
  std::string fine;
  for (int level = 0; level < 100; ++level) fine += std::string(2 * level, ' ') + "k:\n";
  EXPECT_TRUE(parse_yaml(fine, "fine.yml").is_dict());
}

TEST(Json, ParsesAndWritesBack) {
  const Value v =
      parse_json(R"({"a": [1, -2.5, true, null, "x\"y\u00e9"], "b": {}, "c": 1e3})", "t.json");
  const auto& a = v.find("a")->as_list();
  EXPECT_EQ(a[0].as_int(), 1);
  EXPECT_TRUE(a[0].is_int());
  EXPECT_EQ(a[1].as_double(), -2.5);
  EXPECT_TRUE(a[2].as_bool());
  EXPECT_TRUE(a[3].is_null());
  EXPECT_EQ(a[4].as_string(), "x\"y\xc3\xa9");
  EXPECT_TRUE(v.find("c")->is_float());
  EXPECT_EQ(parse_json(to_json(v), "again"), v);
  EXPECT_EQ(parse_json(to_json(v, -1), "again"), v);
}

TEST(Json, NonFiniteBecomesNull) { EXPECT_EQ(to_json(Value(std::nan("")), -1), "null"); }

TEST(Json, ErrorsGiveFileLineAndColumn) {
  test::expect_error([] { parse_json("{\n  \"a\": [1, 2,\n}", "bad.json"); }, {"bad.json:3:1"});
  test::expect_error([] { parse_json("{\"a\": 1} x", "bad.json"); }, {"bad.json", "after"});
  test::expect_error([] { parse_json("\"open", "bad.json"); }, {"unterminated"});
}

TEST(Yaml, BlockMappingsSequencesAndFlowValues) {
  const std::string text = R"(# comment
model:
  heads: 8          # N
  scales: [2.0, 1.414, 1]
  name: 'it''s'
  path: some/file.yml
  empty:
  nested:
    x: {a: 1, b: [true, no]}
list:
- 1
- two
- key: 3
  other: 4.5e-6
)";
  const Value v = parse_yaml(text, "t.yml");
  const Value& model = *v.find("model");
  EXPECT_EQ(model.find("heads")->as_int(), 8);
  EXPECT_EQ(model.find("scales")->to_double_vector(), (std::vector<double>{2.0, 1.414, 1.0}));
  EXPECT_EQ(model.find("name")->as_string(), "it's");
  EXPECT_EQ(model.find("path")->as_string(), "some/file.yml");
  EXPECT_TRUE(model.find("empty")->is_null());
  EXPECT_EQ(model.find("nested")->find("x")->find("b")->as_list()[1].as_string(), "no");
  const auto& list = v.find("list")->as_list();
  EXPECT_EQ(list[0].as_int(), 1);
  EXPECT_EQ(list[1].as_string(), "two");
  EXPECT_EQ(list[2].find("key")->as_int(), 3);
  EXPECT_DOUBLE_EQ(list[2].find("other")->as_double(), 4.5e-6);
  // Writing and reading back gives the same tree.
  EXPECT_EQ(parse_yaml(to_yaml(v), "again"), v);
}

TEST(Yaml, RejectsWhatItDoesNotUnderstand) {
  test::expect_error([] { parse_yaml("a: 1\n  b: 2\n", "bad.yml"); }, {"bad.yml:2", "indentation"});
  test::expect_error([] { parse_yaml("a: 1\na: 2\n", "bad.yml"); },
                     {"bad.yml:2", "duplicate key 'a'"});
  test::expect_error([] { parse_yaml("a: |\n  text\n", "bad.yml"); },
                     {"bad.yml:1", "block scalars"});
  test::expect_error([] { parse_yaml("a: &x 1\n", "bad.yml"); }, {"anchors"});
  test::expect_error([] { parse_yaml("a:\n\tb: 1\n", "bad.yml"); }, {"bad.yml:2", "tabs"});
  test::expect_error([] { parse_yaml("a: [1, 2\n", "bad.yml"); }, {"bad.yml:1"});
}

TEST(Yaml, StringsThatLookLikeOtherTypesAreQuotedWhenWritten) {
  Value v = Value::empty_dict();
  v.set("a", Value("true"));
  v.set("b", Value("3"));
  v.set("c", Value(""));
  v.set("d", Value("x: y"));
  v.set("e", Value(0.1));
  EXPECT_EQ(parse_yaml(to_yaml(v), "again"), v);
}

}  // namespace
}  // namespace mda
