// Command-line options of one sub-command, with --help text that shows every default.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mda/util/error.h"

namespace mda {

class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  ArgParser& option(const std::string& name, const std::string& value_name, const std::string& help,
                    const std::string& default_value = "", bool required = false);
  ArgParser& repeated(const std::string& name, const std::string& value_name,
                      const std::string& help);
  ArgParser& flag(const std::string& name, const std::string& help);
  // Configuration sections (dotted prefixes) whose keys --help lists with their defaults.
  ArgParser& config_sections(std::vector<std::string> prefixes);
  ArgParser& epilog(std::string text);

  // Returns false when --help was given (the help has been printed to stdout).
  bool parse(const std::vector<std::string>& args);

  bool has(const std::string& name) const;  // given on the command line, or has a default
  std::string get(const std::string& name) const;
  // The value as an integer; anything else is a UsageError naming the option and the value.
  int64_t get_int(const std::string& name) const;
  // The value as a finite number; anything else is a UsageError naming the option and the value.
  double get_double(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  bool flag_set(const std::string& name) const;
  std::string help() const;

 private:
  struct Spec {
    std::string name, value_name, help, default_value;
    bool required = false, repeatable = false, is_flag = false;
  };
  const Spec* find(const std::string& name) const;

  std::string command_, summary_, epilog_;
  std::vector<Spec> specs_;
  std::vector<std::string> config_prefixes_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace mda
