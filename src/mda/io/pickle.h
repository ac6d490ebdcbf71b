// A reader for the subset of Python pickles that ground-truth files use: protocols 2 to 5; dicts,
// lists, tuples (read as lists), str, int, float, None, bool; numpy integer and float arrays and
// scalars. Anything else (arbitrary classes, out-of-band buffers) is an error naming the object,
// never executed: the reader has no way to run code from the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/io/value.h"

namespace mda {

// `source` names the data in error messages (usually the file path).
Value parse_pickle(const std::vector<uint8_t>& bytes, const std::string& source);
Value read_pickle(const std::string& path);

}  // namespace mda
