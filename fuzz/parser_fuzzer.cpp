// libFuzzer target for one of mda's readers of untrusted files, chosen at build time by
// MDA_FUZZ_PARSER (fuzz/CMakeLists.txt builds one program per reader). A reader may reject any
// input with an exception (mda::Error or another std::exception); a crash, a hang, a sanitizer
// report or an unbounded allocation is a bug.
#include <cstdint>
#include <exception>

#include "parse_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    mda_fuzz::parse(MDA_FUZZ_PARSER, data, size);
  } catch (const std::exception&) {
    // Rejected with an error: what a reader should do with bad input.
  }
  return 0;
}
