// How the top-n local features of an image are chosen from the N attention heads (method.md 1.8).
//   joint     the paper's reading: a location scores the max over heads of A^(i); all locations
//             of all scales are ranked together, the score divided by its maximum over the image
//   head_max  the same after dividing each head's map by its own maximum over the image's
//             scales, so that a head whose attention values grow cannot take every feature
//   quota     n / N locations per head, each head ranking by its own normalised map; locations
//             are distinct, the rest of n is filled by the head_max ranking
#pragma once

#include <string>

namespace mda {

enum class HeadSelection { kJoint, kHeadMax, kQuota };

// "joint" | "head_max" | "quota"; anything else is an error naming `key`.
HeadSelection parse_head_selection(const std::string& name, const std::string& key);
std::string head_selection_name(HeadSelection selection);

}  // namespace mda
