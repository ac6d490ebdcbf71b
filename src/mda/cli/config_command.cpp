// mda config: prints (and optionally saves) the effective configuration.
#include <iostream>

#include "mda/cli/command_context.h"
#include "mda/util/fs.h"
#include "mda/util/log.h"
#include "mda/util/strings.h"

namespace mda {

std::string sidecar_config_path(const std::string& output_path) {
  const size_t slash = output_path.find_last_of('/');
  const size_t dot = output_path.find_last_of('.');
  const bool has_extension =
      dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_extension ? output_path.substr(0, dot) : output_path) + ".config.yaml";
}

int run_config(const std::vector<std::string>& args) {
  ArgParser parser("config",
                   "Prints the effective configuration: the built-in defaults, then --config FILE "
                   "(with its __template__ chain), then every --set.");
  parser.option("--out", "FILE", "also save it to this YAML file").config_sections({""});
  add_common_options(parser);
  if (!parser.parse(args)) return 0;
  const Config config = setup_command(parser);
  std::cout << config.to_yaml();
  if (parser.has("--out")) {
    config.save(parser.get("--out"));
    log_info("wrote ", parser.get("--out"));
  }
  return 0;
}

}  // namespace mda
