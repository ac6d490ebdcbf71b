#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "mda/util/fs.h"
#include "mda/util/prefetcher.h"
#include "mda/util/strings.h"
#include "test_helpers.h"

namespace mda {
namespace {

TEST(Strings, FormatDuration) {
  EXPECT_EQ(format_duration(3.25), "3.2s");
  EXPECT_EQ(format_duration(125), "2m05s");
  EXPECT_EQ(format_duration(3723), "1h02m03s");
  EXPECT_EQ(format_duration(-1), "--");
}

TEST(Strings, SplitTrimAndNumbers) {
  EXPECT_EQ(split("a\tb\t", '\t'), (std::vector<std::string>{"a", "b", ""}));
  EXPECT_EQ(trim("  x y \r\n"), "x y");
  long long i = 0;
  EXPECT_TRUE(parse_int("-42", i));
  EXPECT_EQ(i, -42);
  EXPECT_FALSE(parse_int("4x", i));
  double d = 0;
  EXPECT_TRUE(parse_double("1e-6", d));
  EXPECT_FALSE(parse_double("1.0.0", d));
}

TEST(OutputOverInput, IsRefusedByPathOrIdentityAndOtherwiseAllowed) {
  test::TempDir dir;
  const std::string in = dir.path("in.npy");
  write_file_atomic(in, std::string("data"));
  test::expect_error(
      [&] {
        refuse_output_over_input(in, {dir.path("other"), in});
      },
      {"in.npy", "is an input"});
  // The same file by another spelling, and by a hard link.
  test::expect_error([&] { refuse_output_over_input(dir.path("") + "/./in.npy", {in}); },
                     {"is an input"});
  std::filesystem::create_hard_link(in, dir.path("linked.npy"));
  test::expect_error([&] { refuse_output_over_input(dir.path("linked.npy"), {in}); },
                     {"linked.npy", "is an input"});
  refuse_output_over_input(dir.path("new.npy"), {in, ""});  // not an input: allowed
  EXPECT_EQ(read_file_text(in), "data");
}

TEST(AtomicWrite, ReplacesWholeFileAndLeavesNoTemporary) {
  test::TempDir dir;
  const std::string path = dir.path("sub/out.txt");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file_text(path), "second");
  // A writer that fails part-way leaves the previous content and no temporary file.
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::ostream& out) {
                                   out << "partial";
                                   throw std::runtime_error("crash");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_file_text(path), "second");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path("sub"))) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(Prefetcher, DeliversInOrderWithErrorsPerItem) {
  std::atomic<int> running{0}, peak{0};
  Prefetcher<int> prefetcher(50, 4, 6, [&](size_t i) {
    const int now = ++running;
    int expected = peak.load();
    while (now > expected && !peak.compare_exchange_weak(expected, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 3)));
    --running;
    if (i == 17) throw Error("item 17 is corrupt");
    return static_cast<int>(i * i);
  });
  size_t expected_index = 0;
  while (auto item = prefetcher.next()) {
    EXPECT_EQ(item->index, expected_index);
    if (expected_index == 17) {
      EXPECT_FALSE(item->value.has_value());
      EXPECT_EQ(item->error, "item 17 is corrupt");
    } else {
      ASSERT_TRUE(item->value.has_value());
      EXPECT_EQ(*item->value, static_cast<int>(expected_index * expected_index));
    }
    ++expected_index;
  }
  EXPECT_EQ(expected_index, 50u);
  EXPECT_LE(peak.load(), 4);
}

TEST(Prefetcher, StopsEarlyWithoutHanging) {
  Prefetcher<int> prefetcher(1000, 2, 4, [](size_t i) { return static_cast<int>(i); });
  EXPECT_EQ(prefetcher.next()->index, 0u);
  // Destruction with items still pending must join the workers promptly.
}

}  // namespace
}  // namespace mda
