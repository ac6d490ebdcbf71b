// The MDA network (method.md 1.2-1.8): backbone S, channel mapping, N dynamic attention heads,
// reduction T to C_T-dim local descriptors, and the global and local forward modes.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "mda/features/head_selection.h"
#include "mda/local_features.h"
#include "mda/net/architecture.h"
#include "mda/net/backbone.h"

namespace mda {

struct AttentionMaps {
  torch::Tensor attention;    // B x N x H x W, positive
  torch::Tensor descriptors;  // B x C_T x H x W, the local descriptors L
};

class MdaNetImpl : public torch::nn::Module {
 public:
  explicit MdaNetImpl(const MdaArchitecture& architecture);

  const MdaArchitecture& architecture() const { return architecture_; }
  int64_t backbone_channels() const { return backbone_->out_channels(); }
  int64_t group_channels() const { return group_; }  // floor(Cs / N)
  std::shared_ptr<BackboneImpl> backbone() const { return backbone_; }
  // For inference only (CPU or CUDA): the backbone's weights become bfloat16 and it runs in
  // bfloat16 from now on (S returns to float for the heads), evaluation.precision: bf16.
  void use_bfloat16_backbone();

  // The branch after the backbone: S (B x Cs x H x W) -> attention maps and local descriptors.
  AttentionMaps head(const torch::Tensor& features);
  // images: B x 3 x H x W RGB in [0, 1].
  AttentionMaps forward(const torch::Tensor& images);

  // Attention-weighted sum pooling per head, L2-normalised (Eq. 4): B x N x C_T.
  static torch::Tensor pooled_descriptors(const AttentionMaps& maps);
  // The combined global descriptor: mean of the N normalised head descriptors, normalised: B x C_T.
  static torch::Tensor combine_heads(const torch::Tensor& per_head);

  // Multi-scale local features of one image (1 x 3 x H x W in [0, 1]): the top `count` distinct
  // locations over all scales, strongest first, chosen from the heads' maps as `selection` says
  // (joint: scored by the max over heads, divided by its maximum over all scales, as HOW).
  LocalFeatures extract_local(const torch::Tensor& image, const std::vector<double>& scales,
                              int64_t count, HeadSelection selection = HeadSelection::kJoint);
  // The same for B images of one size (B x 3 x H x W), each scale one forward of the whole batch
  // (evaluation.batch_size: a GPU runs small images far below its capacity one at a time). Each
  // image's features are extract_local's of it alone, within the float rounding of batched
  // convolutions.
  std::vector<LocalFeatures> extract_local_batch(const torch::Tensor& images,
                                                 const std::vector<double>& scales, int64_t count,
                                                 HeadSelection selection = HeadSelection::kJoint);

  // Parameters of the attention branch (channel mapping and heads), e.g. for separate learning
  // rates.
  std::vector<torch::Tensor> attention_parameters() const;
  // Parameters of the reduction T.
  std::vector<torch::Tensor> reduction_parameters() const { return reduction_->parameters(); }
  // What T is applied to: S, 3x3-smoothed when the architecture says so.
  torch::Tensor reduction_input(const torch::Tensor& features) const;

 private:
  MdaArchitecture architecture_;
  std::shared_ptr<BackboneImpl> backbone_;
  bool bfloat16_backbone_ = false;
  int64_t group_ = 0;
  torch::nn::Conv2d channel_mapping_{nullptr};
  torch::nn::Conv2d reduction_{nullptr};
  torch::Tensor indicator_weight_, indicator_bias_;  // da: N x g x g, N x g (one W_g per head)
  torch::Tensor attention_weight_, attention_bias_;  // conv1x1 and delf's last layer: N x g, N
  torch::Tensor hidden_weight_, hidden_bias_;        // delf's first layer: N x g x g, N x g
};
TORCH_MODULE(MdaNet);

}  // namespace mda
