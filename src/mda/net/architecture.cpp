#include "mda/net/architecture.h"

#include "mda/config/config.h"
#include "mda/util/error.h"

namespace mda {

void MdaArchitecture::validate() const {
  const bool resnet = backbone == "resnet18" || backbone == "resnet34" || backbone == "resnet50" ||
                      backbone == "resnet101";
  const bool mobilenet = backbone == "mobilenet_v1" || backbone == "mobilenet_v2";
  if (!resnet && !mobilenet) {
    fail("model.backbone '", backbone,
         "' is not one of resnet18, resnet34, resnet50, resnet101, mobilenet_v1, mobilenet_v2");
  }
  if (resnet && (skip_layer < 0 || skip_layer > 3))
    fail("model.skip_layer must be 0..3 for ResNets, found ", skip_layer);
  if (mobilenet && (skip_layer < 0 || skip_layer > 1))
    fail("model.skip_layer must be 0 or 1 for MobileNets, found ", skip_layer);
  if (heads < 1) fail("model.heads must be at least 1, found ", heads);
  if (dim < 1) fail("model.dim must be at least 1, found ", dim);
  if (attention != "da" && attention != "l2" && attention != "conv1x1" && attention != "delf") {
    fail("model.attention '", attention, "' is not one of da, l2, conv1x1, delf");
  }
}

Value MdaArchitecture::to_value() const {
  Value v = Value::empty_dict();
  v.set("backbone", Value(backbone));
  v.set("skip_layer", Value(skip_layer));
  v.set("heads", Value(heads));
  v.set("dim", Value(dim));
  v.set("attention", Value(attention));
  v.set("channel_mapping", Value(channel_mapping));
  v.set("stop_gradient", Value(stop_gradient));
  v.set("smoothing", Value(smoothing));
  return v;
}

MdaArchitecture MdaArchitecture::from_value(const Value& value, const std::string& source) {
  MdaArchitecture a;
  try {
    a.backbone = value.find("backbone") ? value.find("backbone")->as_string() : a.backbone;
    const auto get_int = [&](const char* key, int fallback) {
      const Value* v = value.find(key);
      return v ? static_cast<int>(v->as_int()) : fallback;
    };
    const auto get_bool = [&](const char* key, bool fallback) {
      const Value* v = value.find(key);
      return v ? v->as_bool() : fallback;
    };
    a.skip_layer = get_int("skip_layer", a.skip_layer);
    a.heads = get_int("heads", a.heads);
    a.dim = get_int("dim", a.dim);
    a.attention = value.find("attention") ? value.find("attention")->as_string() : a.attention;
    a.channel_mapping = get_bool("channel_mapping", a.channel_mapping);
    a.stop_gradient = get_bool("stop_gradient", a.stop_gradient);
    a.smoothing = get_bool("smoothing", a.smoothing);
  } catch (const Error& error) {
    fail(source, ": bad architecture: ", error.what());
  }
  a.validate();
  return a;
}

MdaArchitecture MdaArchitecture::from_config(const Config& config) {
  return from_value(config.at("model"), "configuration section 'model'");
}

bool MdaArchitecture::operator==(const MdaArchitecture& o) const {
  return backbone == o.backbone && skip_layer == o.skip_layer && heads == o.heads && dim == o.dim &&
         attention == o.attention && channel_mapping == o.channel_mapping &&
         stop_gradient == o.stop_gradient && smoothing == o.smoothing;
}

std::string MdaArchitecture::short_name() const {
  return cat("mda-", backbone, "-s", skip_layer, "-n", heads, "-d", dim, "-", attention);
}

}  // namespace mda
