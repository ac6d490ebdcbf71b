#include "mda/image/image_stream.h"

#include <memory>

#include "mda/image/codec.h"
#include "mda/util/error.h"
#include "mda/util/log.h"
#include "mda/util/prefetcher.h"
#include "mda/util/progress.h"

namespace mda {

BadImagePolicy parse_bad_image_policy(const std::string& text) {
  if (text == "fail") return BadImagePolicy::kFail;
  if (text == "skip") return BadImagePolicy::kSkip;
  fail("runtime.on_bad_image must be 'fail' or 'skip', found '", text, "'");
}

std::vector<size_t> for_each_image(const std::vector<std::string>& paths,
                                   const ImageStreamOptions& options,
                                   const std::function<void(size_t, const Image&)>& consume,
                                   const std::function<Image(size_t, Image)>& prepare) {
  const int threads = options.threads < 1 ? 1 : options.threads;
  Prefetcher<Image> images(paths.size(), threads, static_cast<size_t>(threads) * 2, [&](size_t i) {
    Image image = read_image(paths[i]);
    return prepare ? prepare(i, std::move(image)) : image;
  });
  std::vector<size_t> skipped;
  std::unique_ptr<Progress> own;
  if (!options.progress)
    own = std::make_unique<Progress>(options.label, static_cast<int64_t>(paths.size()), "img");
  Progress& progress = options.progress ? *options.progress : *own;
  while (auto item = images.next()) {
    if (!item->value) {
      if (options.on_bad_image == BadImagePolicy::kFail) fail(item->error);
      log_warning("skipping image ", item->index, ": ", item->error);
      skipped.push_back(item->index);
    } else {
      consume(item->index, *item->value);
    }
    progress.advance();
  }
  if (own) own->finish();
  if (!skipped.empty())
    log_warning(options.label, ": skipped ", skipped.size(), " unreadable image(s)");
  return skipped;
}

}  // namespace mda
