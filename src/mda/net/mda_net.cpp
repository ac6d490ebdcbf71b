#include "mda/net/mda_net.h"

#include <cmath>
#include <utility>

#include "mda/net/feature_selection.h"
#include "mda/util/error.h"

namespace mda {

namespace F = torch::nn::functional;

MdaNetImpl::MdaNetImpl(const MdaArchitecture& architecture) : architecture_(architecture) {
  architecture_.validate();
  backbone_ =
      register_module("backbone", make_backbone(architecture_.backbone, architecture_.skip_layer));
  const int64_t cs = backbone_->out_channels();
  const int64_t n = architecture_.heads;
  group_ = cs / n;
  if (group_ < 1) fail("model.heads = ", n, " exceeds the backbone's ", cs, " channels");
  if (architecture_.channel_mapping) {
    channel_mapping_ = register_module(
        "channel_mapping", torch::nn::Conv2d(torch::nn::Conv2dOptions(cs, cs, 1).bias(true)));
  }
  reduction_ = register_module(
      "reduction",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(cs, architecture_.dim, 1).bias(true)));
  // Initialised like a 1x1 convolution (uniform within 1/sqrt(fan_in)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(group_));
  if (architecture_.attention == "da") {
    indicator_weight_ = register_parameter(
        "indicator_weight", torch::empty({n, group_, group_}).uniform_(-bound, bound));
    indicator_bias_ =
        register_parameter("indicator_bias", torch::empty({n, group_}).uniform_(-bound, bound));
  } else if (architecture_.attention == "conv1x1" || architecture_.attention == "delf") {
    if (architecture_.attention == "delf") {  // DELF's first layer, before the shared last one
      hidden_weight_ = register_parameter(
          "attention_hidden_weight", torch::empty({n, group_, group_}).uniform_(-bound, bound));
      hidden_bias_ = register_parameter("attention_hidden_bias",
                                        torch::empty({n, group_}).uniform_(-bound, bound));
    }
    attention_weight_ =
        register_parameter("attention_weight", torch::empty({n, group_}).uniform_(-bound, bound));
    attention_bias_ =
        register_parameter("attention_bias", torch::empty({n}).uniform_(-bound, bound));
  }
}

AttentionMaps MdaNetImpl::head(const torch::Tensor& features) {
  const int64_t b = features.size(0), h = features.size(2), w = features.size(3);
  const int64_t n = architecture_.heads;
  // Attention branch, gradient stopped into the backbone (method.md 1.6).
  torch::Tensor branch = architecture_.stop_gradient ? features.detach() : features;
  if (architecture_.channel_mapping) branch = channel_mapping_(branch);
  // Groups F^i: the first N * g channels, N x g (the last Cs mod N channels are unused).
  const torch::Tensor groups = branch.narrow(1, 0, n * group_).reshape({b, n, group_, h, w});
  torch::Tensor attention;
  if (architecture_.attention == "da") {
    const torch::Tensor context = groups.mean({3, 4});  // B x N x g (Eq. 2: average pooling)
    const torch::Tensor indicator =
        torch::relu(torch::einsum("bnk,njk->bnj", {context, indicator_weight_}) + indicator_bias_);
    attention = F::softplus(torch::einsum("bnkhw,bnk->bnhw", {groups, indicator}));  // Eq. 3
  } else if (architecture_.attention == "conv1x1" || architecture_.attention == "delf") {
    // One 1x1 convolution to one channel per head, softplus; DELF puts a 1x1 convolution and a
    // ReLU before it.
    torch::Tensor input = groups;
    if (architecture_.attention == "delf") {
      input = torch::relu(torch::einsum("bnkhw,njk->bnjhw", {groups, hidden_weight_}) +
                          hidden_bias_.view({1, n, group_, 1, 1}));
    }
    attention = F::softplus(torch::einsum("bnkhw,nk->bnhw", {input, attention_weight_}) +
                            attention_bias_.view({1, n, 1, 1}));
  } else {  // l2: HOW's attention, the L2 norm of each location's (group) vector
    attention = (groups.pow(2).sum(2) + 1e-10).sqrt();
  }
  return AttentionMaps{attention, reduction_(reduction_input(features))};
}

torch::Tensor MdaNetImpl::reduction_input(const torch::Tensor& features) const {
  if (!architecture_.smoothing) return features;
  return F::avg_pool2d(features,
                       F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}

AttentionMaps MdaNetImpl::forward(const torch::Tensor& images) {
  if (bfloat16_backbone_)
    return head(backbone_->forward(images.to(torch::kBFloat16)).to(torch::kFloat32));
  return head(backbone_->forward(images));
}

torch::Tensor MdaNetImpl::pooled_descriptors(const AttentionMaps& maps) {
  const torch::Tensor pooled = torch::einsum("bnhw,bchw->bnc", {maps.attention, maps.descriptors});
  return pooled / (pooled.norm(2, -1, true) + 1e-6);
}

torch::Tensor MdaNetImpl::combine_heads(const torch::Tensor& per_head) {
  const torch::Tensor mean = per_head.mean(1);
  return mean / (mean.norm(2, -1, true) + 1e-6);
}

void MdaNetImpl::use_bfloat16_backbone() {
  torch::NoGradGuard no_grad;
  backbone_->to(torch::kBFloat16);
  bfloat16_backbone_ = true;
}

LocalFeatures MdaNetImpl::extract_local(const torch::Tensor& image,
                                        const std::vector<double>& scales, int64_t count,
                                        HeadSelection selection) {
  if (image.dim() != 4 || image.size(0) != 1)
    fail("extract_local expects one image (1 x 3 x H x W)");
  return std::move(extract_local_batch(image, scales, count, selection)[0]);
}

std::vector<LocalFeatures> MdaNetImpl::extract_local_batch(const torch::Tensor& images,
                                                           const std::vector<double>& scales,
                                                           int64_t count, HeadSelection selection) {
  if (images.dim() != 4 || images.size(0) < 1 || images.size(1) != 3)
    fail("extract_local_batch expects B x 3 x H x W images, found ", images.sizes());
  if (scales.empty()) fail("extract_local needs at least one scale");
  torch::InferenceMode no_autograd;
  const int64_t batch = images.size(0);
  // Per scale, one forward of the whole batch; per image, its rows of every scale.
  std::vector<std::vector<torch::Tensor>> maps_of_scales(static_cast<size_t>(batch)),
      descriptors(static_cast<size_t>(batch));
  std::vector<torch::Tensor> xs, ys, scale_of;
  const int64_t height = images.size(2), width = images.size(3);
  for (double s : scales) {
    if (!(s > 0)) fail("extraction scale must be positive, found ", s);
    // A scale that shrinks a side below one pixel has nothing to look at (a thin image, e.g.
    // 5000 x 3): it is left out, and an image no scale can see is an error.
    if (std::floor(static_cast<double>(height) * s) < 1 ||
        std::floor(static_cast<double>(width) * s) < 1)
      continue;
    torch::Tensor x = images;
    if (s != 1.0) {
      x = F::interpolate(images, F::InterpolateFuncOptions()
                                     .scale_factor(std::vector<double>{s, s})
                                     .mode(torch::kBilinear)
                                     .align_corners(false)
                                     .recompute_scale_factor(false));
    }
    const AttentionMaps maps = forward(x);
    const int64_t h = maps.attention.size(2), w = maps.attention.size(3);
    for (int64_t b = 0; b < batch; ++b) {
      const size_t i = static_cast<size_t>(b);
      maps_of_scales[i].push_back(maps.attention[b].reshape({maps.attention.size(1), -1}));
      descriptors[i].push_back(maps.descriptors[b].reshape({maps.descriptors.size(1), -1}).t());
    }
    const torch::Tensor grid =
        torch::arange(h * w, torch::TensorOptions().dtype(torch::kInt64).device(images.device()));
    xs.push_back((grid % w).to(torch::kInt32));
    ys.push_back((grid / w).to(torch::kInt32));
    scale_of.push_back(
        torch::full({h * w}, static_cast<float>(s), images.options().dtype(torch::kFloat32)));
  }
  if (xs.empty()) {
    fail("an image of ", width, " x ", height,
         " pixels is too small for every extraction scale (each gives a side under one pixel)");
  }
  const torch::Tensor all_xs = torch::cat(xs), all_ys = torch::cat(ys),
                      all_scales = torch::cat(scale_of);
  std::vector<LocalFeatures> out(static_cast<size_t>(batch));
  for (size_t i = 0; i < out.size(); ++i) {
    const torch::Tensor attention = torch::cat(maps_of_scales[i], 1);  // N x P
    const int64_t keep = std::min<int64_t>(count, attention.size(1));
    const SelectedLocations selected = select_feature_locations(attention, keep, selection);
    const torch::Tensor order = selected.positions;
    const auto pick = [&](const torch::Tensor& rows) {
      return rows.index_select(0, order).cpu().contiguous();
    };
    const torch::Tensor d = pick(torch::cat(descriptors[i])).to(torch::kFloat32);
    const torch::Tensor st = selected.scores.cpu().to(torch::kFloat32).contiguous();
    const torch::Tensor hd = selected.heads.cpu().to(torch::kInt32).contiguous();
    const torch::Tensor px = pick(all_xs), py = pick(all_ys), sc = pick(all_scales);
    LocalFeatures& f = out[i];
    f.dim = d.size(1);
    f.descriptors.assign(d.data_ptr<float>(), d.data_ptr<float>() + d.numel());
    f.strengths.assign(st.data_ptr<float>(), st.data_ptr<float>() + st.numel());
    f.heads.assign(hd.data_ptr<int32_t>(), hd.data_ptr<int32_t>() + hd.numel());
    f.xs.assign(px.data_ptr<int32_t>(), px.data_ptr<int32_t>() + px.numel());
    f.ys.assign(py.data_ptr<int32_t>(), py.data_ptr<int32_t>() + py.numel());
    f.scales.assign(sc.data_ptr<float>(), sc.data_ptr<float>() + sc.numel());
  }
  return out;
}

std::vector<torch::Tensor> MdaNetImpl::attention_parameters() const {
  std::vector<torch::Tensor> params;
  if (channel_mapping_) {
    for (const auto& p : channel_mapping_->parameters()) params.push_back(p);
  }
  for (const torch::Tensor* p : {&indicator_weight_, &indicator_bias_, &hidden_weight_,
                                 &hidden_bias_, &attention_weight_, &attention_bias_}) {
    if (p->defined()) params.push_back(*p);
  }
  return params;
}

}  // namespace mda
