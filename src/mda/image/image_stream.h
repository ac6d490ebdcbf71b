// Reads a list of images in order while worker threads decode the next ones, with a progress
// bar, and applies the policy for unreadable files: fail (the error names the file) or skip
// (a warning names the file, the loop goes on).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mda/image/image.h"

namespace mda {

class Progress;

enum class BadImagePolicy { kFail, kSkip };
// "fail" or "skip"; anything else is an error naming the value.
BadImagePolicy parse_bad_image_policy(const std::string& text);

struct ImageStreamOptions {
  int threads = 4;  // decoding threads
  BadImagePolicy on_bad_image = BadImagePolicy::kFail;
  std::string label = "images";  // progress bar label
  // An outer progress bar to advance instead of a bar of its own (e.g. one over all parts).
  Progress* progress = nullptr;
};

// Calls consume(index, image) for every readable image, in index order. `prepare`, if given, runs
// on the decoding thread after decoding (cropping, resizing). Returns the indices that were
// skipped.
std::vector<size_t> for_each_image(const std::vector<std::string>& paths,
                                   const ImageStreamOptions& options,
                                   const std::function<void(size_t, const Image&)>& consume,
                                   const std::function<Image(size_t, Image)>& prepare = nullptr);

}  // namespace mda
