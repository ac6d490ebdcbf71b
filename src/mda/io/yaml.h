// A YAML subset for configuration files: block mappings and sequences by indentation, flow lists
// [a, b] and maps {a: 1}, quoted and plain scalars, comments. Anchors, aliases, tags and multi-line
// scalars are rejected with a clear error rather than misread.
#pragma once

#include <string>

#include "mda/io/value.h"

namespace mda {

// `source` names the text in error messages; errors give the line number.
Value parse_yaml(const std::string& text, const std::string& source);
Value read_yaml(const std::string& path);
// Parses one scalar or flow value ("3", "1e-6", "[1, 2]", "'text'"), as written after "key: ".
Value parse_yaml_scalar(const std::string& text, const std::string& source);
std::string to_yaml(const Value& value);

}  // namespace mda
