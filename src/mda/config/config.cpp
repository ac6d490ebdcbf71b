#include "mda/config/config.h"

#include <filesystem>
#include <functional>
#include <set>

#include "mda/io/yaml.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {

extern const char* const kDefaultConfigYaml;  // generated from configs/default.yml

const std::string& default_config_yaml() {
  static const std::string text = kDefaultConfigYaml;
  return text;
}

std::vector<ConfigKeyDoc> default_config_docs() {
  // The defaults file is simple block YAML: track the key path by indentation.
  std::vector<ConfigKeyDoc> docs;
  std::vector<std::pair<int, std::string>> path;  // (indent, key)
  for (const std::string& raw : split(default_config_yaml(), '\n')) {
    const std::string_view content = trim(raw);
    if (content.empty() || content[0] == '#') continue;
    const int indent = static_cast<int>(raw.find_first_not_of(' '));
    while (!path.empty() && path.back().first >= indent) path.pop_back();
    const size_t colon = content.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string key(trim(content.substr(0, colon)));
    std::string rest(content.substr(colon + 1));
    std::string comment;
    const size_t hash = rest.find(" #");
    if (hash != std::string::npos) {
      comment = std::string(trim(std::string_view(rest).substr(hash + 2)));
      rest = rest.substr(0, hash);
    }
    const std::string value(trim(rest));
    std::string dotted;
    for (const auto& [i, k] : path) dotted += k + ".";
    dotted += key;
    if (value.empty()) {
      path.emplace_back(indent, key);
    } else {
      docs.push_back(ConfigKeyDoc{dotted, value, comment});
    }
  }
  return docs;
}

namespace {

Value load_with_templates(const std::string& path, std::set<std::string>& visiting) {
  const std::string canonical = std::filesystem::weakly_canonical(path).string();
  if (!file_exists(path)) fail("configuration file '", path, "' does not exist");
  if (visiting.count(canonical)) fail("configuration template cycle through '", path, "'");
  visiting.insert(canonical);
  Value tree = read_yaml(path);
  if (!tree.is_dict()) fail(path, ": a configuration file must be a mapping of sections");
  const Value* templ = tree.find("__template__");
  if (!templ) return tree;
  if (!templ->is_string()) fail(path, ": __template__ must be a file path");
  std::string base_path = templ->as_string();
  if (!std::filesystem::path(base_path).is_absolute())
    base_path = join_path(parent_dir(path), base_path);
  Value base = load_with_templates(base_path, visiting);
  // The file's own keys override the template's, section by section.
  std::function<void(Value&, const Value&)> overlay = [&](Value& target, const Value& top) {
    for (const auto& [key, value] : top.as_dict()) {
      if (key == "__template__") continue;
      Value* existing = target.find(key);
      if (existing && existing->is_dict() && value.is_dict()) {
        overlay(*existing, value);
      } else {
        target.set(key, value.clone());
      }
    }
  };
  overlay(base, tree);
  return base;
}

std::string known_keys(const Value& dict) {
  std::string list;
  for (const auto& [key, value] : dict.as_dict()) list += (list.empty() ? "" : ", ") + key;
  return list;
}

}  // namespace

Value load_config_file(const std::string& path) {
  std::set<std::string> visiting;
  return load_with_templates(path, visiting);
}

Config::Config() : Config(parse_yaml(default_config_yaml(), "<built-in defaults>")) {}

Config::Config(Value defaults) : root_(std::move(defaults)) {
  if (!root_.is_dict()) fail("configuration defaults must be a mapping");
}

void Config::merge_into(Value& target, const Value& overlay, const std::string& prefix,
                        const std::string& source) {
  if (!overlay.is_dict()) fail(source, ": '", prefix, "' must be a mapping of keys");
  for (const auto& [key, value] : overlay.as_dict()) {
    if (key == "__template__") continue;
    const std::string dotted = prefix.empty() ? key : prefix + "." + key;
    Value* existing = target.find(key);
    if (!existing) {
      fail(source, ": unknown configuration key '", dotted, "' (known here: ", known_keys(target),
           ")");
    }
    if (existing->is_dict()) {
      merge_into(*existing, value, dotted, source);
      continue;
    }
    // A key whose default is null takes any kind; otherwise the kind must match
    // (an int where a float is expected is promoted).
    Value replacement = value.clone();
    if (!existing->is_null() && !value.is_null()) {
      if (existing->is_float() && value.is_int()) {
        replacement = Value(static_cast<double>(value.as_int()));
      } else if (existing->kind() != value.kind()) {
        fail(source, ": configuration key '", dotted, "' expects a ", existing->kind_name(),
             ", found a ", value.kind_name());
      }
    }
    *existing = std::move(replacement);
  }
}

void Config::merge(const Value& overlay, const std::string& source) {
  merge_into(root_, overlay, "", source);
}

void Config::merge_file(const std::string& path) { merge(load_config_file(path), path); }

void Config::set_override(const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    fail("--set expects section.key=value, found '", assignment, "'");
  }
  const std::string key(trim(assignment.substr(0, equals)));
  const Value value = parse_yaml_scalar(assignment.substr(equals + 1), "--set " + key);
  // Build {a: {b: {c: value}}} and merge it, so that --set follows the same checks as files.
  const std::vector<std::string> parts = split(key, '.');
  Value tree = value;
  for (size_t i = parts.size(); i-- > 0;) {
    if (parts[i].empty()) fail("--set: bad key '", key, "'");
    Value::Dict dict;
    dict.emplace_back(parts[i], tree);
    tree = Value(std::move(dict));
  }
  merge(tree, "--set " + assignment);
}

const Value& Config::at(const std::string& dotted_key) const {
  const Value* node = &root_;
  for (const std::string& part : split(dotted_key, '.')) {
    const Value* next = node->is_dict() ? node->find(part) : nullptr;
    if (!next) fail("configuration key '", dotted_key, "' does not exist");
    node = next;
  }
  return *node;
}

namespace {
template <typename Get>
auto typed(const Config& config, const std::string& key, Get get) -> decltype(get(Value())) {
  try {
    return get(config.at(key));
  } catch (const Error& error) {
    fail("configuration key '", key, "': ", error.what());
  }
}
}  // namespace

int64_t Config::get_int(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_int(); });
}
double Config::get_double(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_double(); });
}
bool Config::get_bool(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_bool(); });
}
std::string Config::get_string(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_string(); });
}
std::vector<double> Config::get_doubles(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.to_double_vector(); });
}
std::vector<int64_t> Config::get_ints(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.to_int_vector(); });
}

std::string Config::to_yaml() const { return mda::to_yaml(root_); }

void Config::save(const std::string& path) const {
  write_file_atomic(path, "# effective mda configuration\n" + to_yaml());
}

}  // namespace mda
