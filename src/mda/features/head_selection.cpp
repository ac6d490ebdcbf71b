#include "mda/features/head_selection.h"

#include "mda/util/error.h"

namespace mda {

HeadSelection parse_head_selection(const std::string& name, const std::string& key) {
  if (name == "joint") return HeadSelection::kJoint;
  if (name == "head_max") return HeadSelection::kHeadMax;
  if (name == "quota") return HeadSelection::kQuota;
  fail(key, " must be joint, head_max or quota, found '", name, "'");
}

std::string head_selection_name(HeadSelection selection) {
  switch (selection) {
    case HeadSelection::kJoint:
      return "joint";
    case HeadSelection::kHeadMax:
      return "head_max";
    case HeadSelection::kQuota:
      return "quota";
  }
  return "joint";
}

}  // namespace mda
