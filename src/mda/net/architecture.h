// The architecture parameters of an MDA network (method.md sections 0 and 1), free of libtorch so
// that configuration and file code can use them.
#pragma once

#include <string>

#include "mda/io/value.h"

namespace mda {

class Config;

struct MdaArchitecture {
  std::string backbone = "resnet50";  // resnet18|34|50|101, mobilenet_v1, mobilenet_v2
  int skip_layer = 1;  // trailing ResNet blocks dropped; MobileNets: 1 = stride 16, 0 = 32
  int heads = 8;       // N
  int dim = 128;       // C_T
  std::string attention = "da";  // da | l2 | conv1x1 (one layer) | delf (two, ReLU between)
  bool channel_mapping = true;
  bool stop_gradient = true;
  bool smoothing = false;

  // Throws naming the offending parameter.
  void validate() const;
  Value to_value() const;
  static MdaArchitecture from_value(const Value& value, const std::string& source);
  static MdaArchitecture from_config(const Config& config);  // the `model` section
  bool operator==(const MdaArchitecture& other) const;
  // "mda-resnet50-s1-n8-d128-da", for file names and logs.
  std::string short_name() const;
};

}  // namespace mda
