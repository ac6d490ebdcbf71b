// A small procedural retrieval dataset, written in the Revisited layout so that every command
// runs on it. Each object is a random arrangement of coloured shapes; its views paste it onto a
// cluttered scene under a random similarity transform, lighting change and noise. The ground truth
// follows from the construction:
//   query  = a mild view, with bbx = the object's bounding box in it;
//   easy   = mild views (scale 0.8-1.25, rotation within 15 degrees);
//   hard   = strong views (scale 0.5-0.65 or 1.5-1.8, rotation 30-60 degrees, stronger lighting
//   change); junk   = a view that shows under a fifth of the object (cut by the image border);
//   distractors = scenes without any object.
#pragma once

#include <cstdint>
#include <string>

#include "mda/data/revisited_dataset.h"

namespace mda {

struct SyntheticDatasetOptions {
  int objects = 24;
  int easy_views = 2;
  int hard_views = 1;
  int junk_views = 1;
  int distractors = 24;
  int width = 192;
  int height = 144;
  uint64_t seed = 0;
  // Occlusion-heavy variant: every query, easy and hard view has this fraction of the object's box
  // hidden behind two clutter patches placed at random, so that a match needs several object
  // parts (what multiple heads are meant for). 0 = none, and the same images as before.
  double occlusion = 0.0;
};

// Writes <root>/<name>/jpg/*.jpg and gnd_<name>.json; returns the dataset as loaded back.
RevisitedDataset write_synthetic_dataset(const std::string& root, const std::string& name,
                                         const SyntheticDatasetOptions& options);

// Writes <dataset folder>/train.tsv, a training manifest of the dataset's images: the query and the
// easy and hard views of object i share the label "object<i>", each distractor has a label of its
// own, junk views (under a fifth of the object) are left out. Returns the manifest's path.
std::string write_synthetic_training_manifest(const RevisitedDataset& dataset);

}  // namespace mda
