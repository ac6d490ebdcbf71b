#include "mda/net/feature_selection.h"

#include <vector>

#include "mda/util/error.h"

namespace mda {

namespace {

// Per-head maps divided by each head's own maximum over all the image's locations and scales.
torch::Tensor normalise_per_head(const torch::Tensor& attention) {
  return attention / std::get<0>(attention.max(1, /*keepdim=*/true)).clamp_min(1e-12);
}

// Positions (into the concatenated locations) in descending `score`, stable so that equal scores
// keep scale order, then location order.
torch::Tensor descending(const torch::Tensor& score) {
  return std::get<1>(score.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
}

}  // namespace

SelectedLocations select_feature_locations(const torch::Tensor& attention, int64_t keep,
                                           HeadSelection selection) {
  if (attention.dim() != 2) fail("select_feature_locations expects N x P attention values");
  if (keep < 0 || keep > attention.size(1))
    fail("select_feature_locations: cannot keep ", keep, " of ", attention.size(1), " locations");
  SelectedLocations out;
  if (selection == HeadSelection::kJoint) {
    auto [best, head] = attention.max(0);
    const torch::Tensor score = best / best.max().clamp_min(1e-12);  // HOW: max over all scales
    out.positions = descending(score).narrow(0, 0, keep);
    out.scores = score.index_select(0, out.positions);
    out.heads = head.index_select(0, out.positions);
    return out;
  }
  const torch::Tensor normalised = normalise_per_head(attention);
  auto [best, best_head] = normalised.max(0);
  if (selection == HeadSelection::kHeadMax) {
    out.positions = descending(best).narrow(0, 0, keep);
    out.scores = best.index_select(0, out.positions);
    out.heads = best_head.index_select(0, out.positions);
    return out;
  }
  // Quota: head i takes its own strongest keep / N locations not taken by an earlier head.
  const int64_t n = attention.size(0), p = attention.size(1), quota = keep / n;
  const torch::Tensor cpu = normalised.to(torch::kCPU, torch::kFloat32).contiguous();
  std::vector<char> taken(static_cast<size_t>(p), 0);
  std::vector<int64_t> positions, heads;
  std::vector<float> scores;
  const auto take = [&](int64_t position, int64_t head, float score) {
    taken[static_cast<size_t>(position)] = 1;
    positions.push_back(position);
    heads.push_back(head);
    scores.push_back(score);
  };
  for (int64_t i = 0; i < n && quota > 0; ++i) {
    const torch::Tensor order = descending(cpu[i]);
    const int64_t* o = order.data_ptr<int64_t>();
    const float* a = cpu[i].data_ptr<float>();
    int64_t got = 0;
    for (int64_t r = 0; r < p && got < quota; ++r) {
      if (taken[static_cast<size_t>(o[r])]) continue;
      take(o[r], i, a[o[r]]);
      ++got;
    }
  }
  // The rest of n (keep mod N, or what a head could not fill) by the head_max ranking.
  const torch::Tensor best_cpu = best.to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor head_cpu = best_head.to(torch::kCPU, torch::kInt64).contiguous();
  const torch::Tensor order = descending(best_cpu);
  const int64_t* o = order.data_ptr<int64_t>();
  for (int64_t r = 0; r < p && static_cast<int64_t>(positions.size()) < keep; ++r) {
    if (!taken[static_cast<size_t>(o[r])])
      take(o[r], head_cpu.data_ptr<int64_t>()[o[r]], best_cpu.data_ptr<float>()[o[r]]);
  }
  const torch::Tensor s = torch::tensor(scores, torch::kFloat32);
  const torch::Tensor rank = descending(s);
  const auto device = attention.device();
  out.positions = torch::tensor(positions, torch::kInt64).index_select(0, rank).to(device);
  out.heads = torch::tensor(heads, torch::kInt64).index_select(0, rank).to(device);
  out.scores = s.index_select(0, rank).to(device);
  return out;
}

}  // namespace mda
