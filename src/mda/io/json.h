// JSON reading and writing over mda::Value.
#pragma once

#include <string>

#include "mda/io/value.h"

namespace mda {

// `source` names the text in error messages (usually the file path); errors give line and column.
Value parse_json(const std::string& text, const std::string& source);
Value read_json(const std::string& path);
// Non-finite floats are written as null (JSON has no NaN). indent < 0 writes one line.
std::string to_json(const Value& value, int indent = 2);
void write_json(const std::string& path, const Value& value);  // atomic

}  // namespace mda
