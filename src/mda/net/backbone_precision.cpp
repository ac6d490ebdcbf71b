#include "mda/net/backbone.h"
#include "mda/util/error.h"

namespace mda {

BackbonePrecision parse_backbone_precision(const std::string& text, const std::string& key) {
  if (text == "float") return BackbonePrecision::kFloat;
  if (text == "bf16") return BackbonePrecision::kBfloat16;
  if (text == "int8") return BackbonePrecision::kInt8;
  fail(key, " must be float, bf16 or int8, found '", text, "'");
}

std::string backbone_precision_name(BackbonePrecision precision) {
  switch (precision) {
    case BackbonePrecision::kFloat:
      return "float";
    case BackbonePrecision::kBfloat16:
      return "bf16";
    case BackbonePrecision::kInt8:
      return "int8";
  }
  return "float";
}

}  // namespace mda
