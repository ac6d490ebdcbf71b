// Small string helpers used across the project.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mda {

std::string_view trim(std::string_view text);
std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
// "1h02m03s", "4m05s", "12.3s": for progress bars and timings.
std::string format_duration(double seconds);
// Parses a whole string as a number; false when anything but the number is present.
bool parse_int(std::string_view text, long long& value);
bool parse_double(std::string_view text, double& value);
// Standard base64 with padding (RFC 4648), for data URIs.
std::string base64(const std::vector<uint8_t>& bytes);

}  // namespace mda
