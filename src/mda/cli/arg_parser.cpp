#include "mda/cli/arg_parser.h"

#include <cmath>
#include <iostream>
#include <sstream>

#include "mda/config/config.h"
#include "mda/util/strings.h"

namespace mda {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {
  flag("--help", "show this help and exit");
}

ArgParser& ArgParser::option(const std::string& name, const std::string& value_name,
                             const std::string& help, const std::string& default_value,
                             bool required) {
  specs_.push_back(Spec{name, value_name, help, default_value, required, false, false});
  return *this;
}

ArgParser& ArgParser::repeated(const std::string& name, const std::string& value_name,
                               const std::string& help) {
  specs_.push_back(Spec{name, value_name, help, "", false, true, false});
  return *this;
}

ArgParser& ArgParser::flag(const std::string& name, const std::string& help) {
  specs_.push_back(Spec{name, "", help, "", false, false, true});
  return *this;
}

ArgParser& ArgParser::config_sections(std::vector<std::string> prefixes) {
  config_prefixes_ = std::move(prefixes);
  return *this;
}

ArgParser& ArgParser::epilog(std::string text) {
  epilog_ = std::move(text);
  return *this;
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const Spec& spec : specs_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  values_.clear();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    bool inline_value = false;
    if (const size_t eq = name.find('='); starts_with(name, "--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const Spec* spec = find(name);
    if (!spec) {
      throw UsageError(cat("mda ", command_, ": unknown ",
                           starts_with(name, "-") ? "option" : "argument", " '", args[i],
                           "' (see mda ", command_, " --help)"));
    }
    if (spec->is_flag) {
      if (inline_value) throw UsageError(cat("mda ", command_, ": ", name, " takes no value"));
      if (name == "--help") {
        std::cout << help();
        return false;
      }
      values_[name].push_back("true");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        throw UsageError(
            cat("mda ", command_, ": ", name, " needs a value (", spec->value_name, ")"));
      }
      value = args[++i];
    }
    auto& slot = values_[name];
    if (!spec->repeatable && !slot.empty()) {
      throw UsageError(cat("mda ", command_, ": ", name, " given twice"));
    }
    slot.push_back(value);
  }
  for (const Spec& spec : specs_) {
    if (spec.required && !values_.count(spec.name)) {
      throw UsageError(cat("mda ", command_, ": missing required option ", spec.name, " ",
                           spec.value_name, " (see mda ", command_, " --help)"));
    }
  }
  return true;
}

bool ArgParser::has(const std::string& name) const {
  const Spec* spec = find(name);
  return values_.count(name) > 0 || (spec && !spec->default_value.empty());
}

std::string ArgParser::get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  const Spec* spec = find(name);
  return spec ? spec->default_value : "";
}

int64_t ArgParser::get_int(const std::string& name) const {
  const std::string text = get(name);
  long long value = 0;
  if (!parse_int(text, value))
    throw UsageError(cat("mda ", command_, ": ", name, " expects an integer, found '", text, "'"));
  return value;
}

double ArgParser::get_double(const std::string& name) const {
  const std::string text = get(name);
  double value = 0;
  if (!parse_double(text, value) || !std::isfinite(value))
    throw UsageError(cat("mda ", command_, ": ", name, " expects a number, found '", text, "'"));
  return value;
}

std::vector<std::string> ArgParser::all(const std::string& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool ArgParser::flag_set(const std::string& name) const { return values_.count(name) > 0; }

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "Usage: mda " << command_ << " [options]\n\n" << summary_ << "\n\nOptions:\n";
  for (const Spec& spec : specs_) {
    std::string left = "  " + spec.name + (spec.value_name.empty() ? "" : " " + spec.value_name);
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += "\n" + std::string(30, ' ');
    out << left << spec.help;
    if (spec.required) out << " (required)";
    if (!spec.default_value.empty()) out << " [default: " << spec.default_value << "]";
    if (spec.repeatable) out << " (repeatable)";
    out << "\n";
  }
  if (!config_prefixes_.empty()) {
    out << "\nConfiguration keys read by this command (change with --config FILE or --set "
           "KEY=VALUE):\n";
    for (const ConfigKeyDoc& doc : default_config_docs()) {
      bool wanted = false;
      for (const std::string& prefix : config_prefixes_)
        wanted = wanted || starts_with(doc.key, prefix);
      if (!wanted) continue;
      std::string left = "  " + doc.key;
      if (left.size() < 44)
        left.resize(44, ' ');
      else
        left += " ";
      out << left << doc.comment << " [default: " << doc.default_text << "]\n";
    }
  }
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

}  // namespace mda
