// Helpers shared by the unit tests: temporary folders, running the numpy interpreter, and
// checking that a call throws an mda::Error whose message names what it should.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "mda/util/error.h"

namespace mda::test {

// A fresh folder under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (std::string("mda_test_") + info->test_suite_name() + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path(const std::string& name = "") const {
    return name.empty() ? path_.string() : (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string numpy_python() { return MDA_TEST_PYTHON; }

// Runs a Python snippet with numpy; returns its exit status.
inline int run_python(const std::string& script_path, const std::string& args) {
  return std::system((numpy_python() + " " + script_path + " " + args).c_str());
}

#define MDA_SKIP_WITHOUT_NUMPY()                                                        \
  do {                                                                                  \
    if (mda::test::numpy_python().empty())                                              \
      GTEST_SKIP() << "SKIPPED: no python3 with numpy (apt-get install python3-numpy)"; \
  } while (0)

inline std::string shared_data() { return MDA_SHARED_DATA; }
inline bool have_shared_data() { return std::filesystem::exists(shared_data() + "/README.md"); }

#define MDA_SKIP_WITHOUT_SHARED_DATA()                                               \
  do {                                                                               \
    if (!mda::test::have_shared_data())                                              \
      GTEST_SKIP() << "SKIPPED: ../shared/data is not present next to the checkout"; \
  } while (0)

// Expects `call` to throw mda::Error with every one of `fragments` in its message.
inline void expect_error(const std::function<void()>& call,
                         std::initializer_list<std::string> fragments) {
  try {
    call();
    ADD_FAILURE() << "expected an mda::Error, nothing was thrown";
  } catch (const mda::Error& error) {
    const std::string message = error.what();
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "error message '" << message << "' lacks '" << fragment << "'";
    }
  }
}

}  // namespace mda::test
