// Layered configuration: built-in defaults <- YAML file (with __template__ inheritance) <- --set.
//
// Every key must exist in the defaults, with a value of a compatible kind, so that typos and
// wrong types fail loudly. The effective configuration is saved beside each output.
#pragma once

#include <string>
#include <vector>

#include "mda/io/value.h"

namespace mda {

// The built-in defaults (configs/default.yml, compiled into the program).
const std::string& default_config_yaml();

struct ConfigKeyDoc {
  std::string key;           // dotted path, "evaluation.features_num"
  std::string default_text;  // as written in the defaults
  std::string comment;
};
// Every leaf key of the defaults with its default and its comment, for --help.
std::vector<ConfigKeyDoc> default_config_docs();

// Reads a YAML file and resolves its "__template__: other.yml" chain (relative to the file;
// the file's keys override the template's). Cycles are an error.
Value load_config_file(const std::string& path);

class Config {
 public:
  Config();  // the built-in defaults
  explicit Config(Value defaults);
  // A copy is independent of the original (the tree is cloned, not shared).
  Config(const Config& other) : root_(other.root_.clone()) {}
  Config& operator=(const Config& other) {
    if (this != &other) root_ = other.root_.clone();
    return *this;
  }
  Config(Config&&) noexcept = default;
  Config& operator=(Config&&) noexcept = default;

  // Merges a tree over the current one; `source` names it in errors.
  void merge(const Value& overlay, const std::string& source);
  void merge_file(const std::string& path);
  // "section.key=value", the value written as in YAML ("3", "[1, 2]", "true", "'text'").
  void set_override(const std::string& assignment);

  const Value& root() const { return root_; }
  // Throws naming the key when it is absent.
  const Value& at(const std::string& dotted_key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::vector<double> get_doubles(const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& key) const;

  std::string to_yaml() const;
  // Writes the effective configuration atomically.
  void save(const std::string& path) const;

 private:
  void merge_into(Value& target, const Value& overlay, const std::string& prefix,
                  const std::string& source);
  Value root_;
};

}  // namespace mda
