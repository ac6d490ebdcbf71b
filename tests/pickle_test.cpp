#include "mda/io/pickle.h"

#include <gtest/gtest.h>

#include "mda/util/fs.h"
#include "test_helpers.h"

namespace mda {
namespace {

class PickleFromPython : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::numpy_python().empty()) GTEST_SKIP() << "SKIPPED: no python3 with numpy";
    ASSERT_EQ(
        test::run_python(std::string(MDA_SOURCE_DIR) + "/tests/pickle_numpy_check.py", dir_.path()),
        0);
  }
  test::TempDir dir_;
};

TEST_F(PickleFromPython, ReadsPlainDataAndNumpyArraysAtProtocols2To5) {
  for (int protocol = 2; protocol <= 5; ++protocol) {
    SCOPED_TRACE("protocol " + std::to_string(protocol));
    const Value v = read_pickle(dir_.path("case_p" + std::to_string(protocol) + ".pkl"));
    ASSERT_TRUE(v.is_dict());
    EXPECT_EQ(v.find("imlist")->as_list()[2].as_string(), "\xc3\xbcn\xc3\xaf");
    EXPECT_EQ(v.find("qimlist")->as_list()[0].as_string(), "q");
    const Value& g = v.find("gnd")->as_list()[0];
    EXPECT_EQ(g.find("bbx")->to_double_vector(), (std::vector<double>{0.5, 1.0, 10.0, 20.25}));
    EXPECT_EQ(g.find("easy")->to_int_vector(), (std::vector<int64_t>{0, 2}));
    EXPECT_TRUE(g.find("hard")->to_int_vector().empty());
    EXPECT_EQ(g.find("junk")->to_int_vector(), (std::vector<int64_t>{1}));
    const auto& flags = v.find("flags")->as_list();
    EXPECT_TRUE(flags[0].as_bool());
    EXPECT_FALSE(flags[1].as_bool());
    EXPECT_TRUE(flags[2].is_null());
    EXPECT_EQ(v.find("big")->as_int(), int64_t{1} << 40);
    EXPECT_EQ(v.find("neg")->as_int(), -7);
    EXPECT_EQ(v.find("neg_big")->as_int(), -(int64_t{1} << 33));
    const NdArray& f32 = v.find("f32")->as_array();
    EXPECT_EQ(f32.dtype, DType::kFloat32);
    EXPECT_EQ(f32.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(f32.to_double(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25}));
    EXPECT_EQ(v.find("u8")->as_array().to_int64(), (std::vector<int64_t>{1, 2, 255}));
    EXPECT_EQ(v.find("i32")->as_array().to_int64(), (std::vector<int64_t>{-1, 5}));
    EXPECT_EQ(v.find("scalar_i")->as_int(), 5);
    EXPECT_EQ(v.find("scalar_f")->as_double(), 2.5);
    EXPECT_EQ(v.find("shared_b")->to_int_vector(), (std::vector<int64_t>{7, 8}));
    EXPECT_EQ(v.find("long")->as_string(), std::string(300, 'x'));
  }
}

TEST_F(PickleFromPython, RefusesToRunCodeOrLoadObjects) {
  test::expect_error([&] { read_pickle(dir_.path("evil.pkl")); },
                     {"evil.pkl", "system", "not supported"});
  test::expect_error([&] { read_pickle(dir_.path("object_array.pkl")); }, {"object_array.pkl"});
}

TEST_F(PickleFromPython, TruncatedPickleIsAClearError) {
  std::vector<uint8_t> bytes = read_file_bytes(dir_.path("case_p4.pkl"));
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{3}}) {
    const std::vector<uint8_t> cut(bytes.begin(),
                                   bytes.begin() + static_cast<std::ptrdiff_t>(keep));
    test::expect_error([&] { parse_pickle(cut, "cut.pkl"); }, {"cut.pkl"});
  }
}

TEST(Pickle, DeepNestingIsAnErrorNotAStackOverflow) {
  // A million nested lists: EMPTY_LIST a million times, then APPEND into each outer one.
  const size_t levels = 1000000;
  std::vector<uint8_t> bytes = {0x80, 0x02};
  bytes.insert(bytes.end(), levels, ']');
  bytes.insert(bytes.end(), levels - 1, 'a');
  bytes.push_back('.');
  test::expect_error([&] { parse_pickle(bytes, "deep.pkl"); }, {"deep.pkl", "nesting too deep"});
}

TEST(Pickle, RejectsNonPickles) {
  const std::string text = "{\"imlist\": []}";
  test::expect_error(
      [&] { parse_pickle(std::vector<uint8_t>(text.begin(), text.end()), "gnd.json"); },
      {"gnd.json", "not a pickle"});
}

TEST(Pickle, HandMadeProtocol2Bytes) {
  // {'a': [1, 2.5, None]} written by hand: PROTO 2, EMPTY_DICT, SHORT_BINUNICODE is protocol 4,
  // so use BINUNICODE; BININT1 1, BINFLOAT 2.5, NONE; APPENDS; SETITEM; STOP.
  std::vector<uint8_t> b = {0x80, 2,    '}',  'X', 1, 0, 0, 0, 'a', ']', '(', 'K', 1,
                            'G',  0x40, 0x04, 0,   0, 0, 0, 0, 0,   'N', 'e', 's', '.'};
  const Value v = parse_pickle(b, "hand.pkl");
  const auto& list = v.find("a")->as_list();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].as_int(), 1);
  EXPECT_EQ(list[1].as_double(), 2.5);
  EXPECT_TRUE(list[2].is_null());
}

}  // namespace
}  // namespace mda
