#include "mda/util/collective.h"

#include <algorithm>

namespace mda {
namespace {

class SingleProcess : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::vector<std::string> all_gather(const std::string& mine) override { return {mine}; }
};

Collective* current_job = nullptr;

}  // namespace

Collective& single_process() {
  static SingleProcess instance;
  return instance;
}

Collective& job() { return current_job ? *current_job : single_process(); }

void set_job(Collective* collective) { current_job = collective; }

void agree_on_success(Collective& collective, const std::string& error) {
  // An empty message from a failed part must still count as a failure.
  const std::vector<std::string> all = collective.all_gather(error.empty() ? "" : "!" + error);
  std::string failures;
  for (size_t rank = 0; rank < all.size(); ++rank) {
    if (all[rank].empty()) continue;
    if (!failures.empty()) failures += "; ";
    failures += cat("rank ", rank, " of ", all.size(), ": ", all[rank].substr(1));
  }
  if (!failures.empty()) throw RankFailure(failures);
}

std::pair<int64_t, int64_t> rank_block(int64_t n, int rank, int size, int64_t align) {
  if (size < 1 || rank < 0 || rank >= size) fail("rank ", rank, " of ", size, " does not exist");
  if (align < 1) fail("rank_block: alignment must be positive, found ", align);
  const int64_t units = (n + align - 1) / align;
  const auto edge = [&](int r) { return std::min(n, units * r / size * align); };
  return {edge(rank), edge(rank + 1)};
}

}  // namespace mda
