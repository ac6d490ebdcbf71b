// Tests of the MDA network, its backbones, weight import and model files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <functional>
#include <set>
#include <tuple>

#include "local_features_checks.h"
#include "mda/image/codec.h"
#include "mda/image/transform.h"
#include "mda/io/npy.h"
#include "mda/net/feature_selection.h"
#include "mda/net/int8_mobilenet.h"
#include "mda/net/losses.h"
#include "mda/net/mda_net.h"
#include "mda/net/mobilenet.h"
#include "mda/net/model_file.h"
#include "mda/net/pca_whitening.h"
#include "mda/net/weight_import.h"
#include "mda/util/cpu_features.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"
#include "test_helpers.h"

namespace mda {
namespace {

// A small, fast configuration: ResNet-18 up to layer2 (128 channels, stride 8).
MdaArchitecture tiny(int heads = 3, int dim = 16, const std::string& attention = "da") {
  MdaArchitecture a;
  a.backbone = "resnet18";
  a.skip_layer = 2;
  a.heads = heads;
  a.dim = dim;
  a.attention = attention;
  return a;
}

// A tiny model written to `dir`, its weights drawn under `seed`: the path.
std::string saved_tiny_model(const test::TempDir& dir, uint64_t seed, int heads, int dim) {
  torch::manual_seed(seed);
  MdaNet net(tiny(heads, dim));
  const std::string path = dir.path("m.mdam");
  save_model(path, *net);
  return path;
}

// Central differences of `loss` at `checks` entries of `x` (every `stride`-th, wrapping), each
// perturbed in place and restored, against the analytic gradient `analytic` of the same shape.
void expect_central_differences(const torch::Tensor& x, const torch::Tensor& analytic,
                                const std::function<double()>& loss, int checks, int64_t stride,
                                double absolute_tolerance, const std::string& what) {
  const double eps = 1e-6;
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = x.view({-1});
  const torch::Tensor expected = analytic.contiguous().view({-1});
  for (int k = 0; k < checks; ++k) {
    const int64_t i = (k * stride) % x.numel();
    const double saved = flat[i].item<double>();
    flat[i] = saved + eps;
    const double up = loss();
    flat[i] = saved - eps;
    const double down = loss();
    flat[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(expected[i].item<double>(), numeric, absolute_tolerance + 1e-5 * std::abs(numeric))
        << what << "[" << i << "]";
  }
}

torch::Tensor image_tensor(const Image& image) {
  const FloatImage f = to_normalized_float(image, {0, 0, 0}, {1, 1, 1});
  return torch::from_blob(const_cast<float*>(f.data.data()), {1, 3, f.height, f.width},
                          torch::kFloat32)
      .clone();
}

TEST(MdaNet, ShapesForSeveralHeadsAndDims) {
  for (const auto& [heads, dim] : {std::pair<int, int>{1, 16}, {3, 32}, {8, 16}, {5, 8}}) {
    torch::manual_seed(0);
    MdaNet net(tiny(heads, dim));
    net->eval();
    EXPECT_EQ(net->group_channels(), 128 / heads);  // 3 and 5 leave channels unused
    const AttentionMaps maps = net->forward(torch::rand({2, 3, 64, 48}));
    EXPECT_EQ(maps.attention.sizes().vec(), (std::vector<int64_t>{2, heads, 8, 6}));
    EXPECT_EQ(maps.descriptors.sizes().vec(), (std::vector<int64_t>{2, dim, 8, 6}));
    EXPECT_GT(maps.attention.min().item<float>(), 0.0f);
    const torch::Tensor g = MdaNetImpl::pooled_descriptors(maps);
    EXPECT_EQ(g.sizes().vec(), (std::vector<int64_t>{2, heads, dim}));
    EXPECT_TRUE(torch::allclose(g.norm(2, -1), torch::ones({2, heads}), 1e-4, 1e-4));
    const torch::Tensor combined = MdaNetImpl::combine_heads(g);
    EXPECT_EQ(combined.sizes().vec(), (std::vector<int64_t>{2, dim}));
  }
}

TEST(MdaNet, EveryAttentionModuleIsPositive) {
  for (const std::string attention : {"da", "l2", "conv1x1", "delf"}) {
    torch::manual_seed(1);
    MdaNet net(tiny(4, 16, attention));
    net->eval();
    const AttentionMaps maps = net->forward(torch::rand({1, 3, 40, 40}));
    EXPECT_GT(maps.attention.min().item<float>(), 0.0f) << attention;
  }
}

// Table 1's "1x1 conv (DELF-style)": per head, a 1x1 convolution, ReLU, a 1x1 convolution to one
// channel, softplus; computed here location by location.
TEST(MdaNet, DelfAttentionIsTwoConvolutionsWithReluThenSoftplus) {
  torch::manual_seed(3);
  MdaArchitecture a = tiny(2, 8, "delf");
  a.channel_mapping = false;
  MdaNet net(a);
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor s = torch::randn({1, 128, 3, 4});
  const torch::Tensor attention = net->head(s).attention;
  auto params = net->named_parameters();
  const torch::Tensor w1 = params["attention_hidden_weight"], b1 = params["attention_hidden_bias"];
  const torch::Tensor w2 = params["attention_weight"], b2 = params["attention_bias"];
  const int64_t g = 64;
  for (int64_t head = 0; head < 2; ++head) {
    for (int64_t y = 0; y < 3; ++y) {
      for (int64_t x = 0; x < 4; ++x) {
        const torch::Tensor f = s[0].narrow(0, head * g, g).select(1, y).select(1, x);  // g
        const torch::Tensor hidden = torch::relu(torch::mv(w1[head], f) + b1[head]);
        const double z = (torch::dot(w2[head], hidden) + b2[head]).item<double>();
        EXPECT_NEAR(attention[0][head][y][x].item<double>(), std::log1p(std::exp(z)), 1e-5);
      }
    }
  }
}

TEST(MdaNet, StopGradientKeepsAttentionLossOutOfTheBackbone) {
  for (const bool stop : {true, false}) {
    torch::manual_seed(2);
    MdaArchitecture a = tiny();
    a.stop_gradient = stop;
    MdaNet net(a);
    net->eval();
    net->zero_grad();
    net->forward(torch::rand({1, 3, 40, 40})).attention.sum().backward();
    double backbone_grad = 0;
    for (const auto& p : net->backbone()->parameters()) {
      if (p.grad().defined()) backbone_grad += p.grad().abs().sum().item<double>();
    }
    double head_grad = 0;
    for (const auto& p : net->attention_parameters()) {
      if (p.grad().defined()) head_grad += p.grad().abs().sum().item<double>();
    }
    EXPECT_GT(head_grad, 0.0);
    if (stop) {
      EXPECT_EQ(backbone_grad, 0.0);
    } else {
      EXPECT_GT(backbone_grad, 0.0);
    }
  }
}

TEST(MdaNet, HeadGradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  MdaArchitecture a = tiny(3, 8);
  a.stop_gradient = false;  // so that the gradient reaches S through both branches
  a.smoothing = true;
  MdaNet net(a);
  net->to(torch::kFloat64);
  const torch::Tensor features = torch::rand({1, 128, 4, 5}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor projection = torch::randn({1, 3, 8}, torch::kFloat64);
  const auto loss_of = [&](const torch::Tensor& s) {
    const AttentionMaps maps = net->head(s);
    return (MdaNetImpl::pooled_descriptors(maps) * projection).sum() +
           0.1 * maps.attention.log().mean();
  };
  const torch::Tensor loss = loss_of(features);
  const torch::Tensor weight = net->named_parameters()["indicator_weight"];
  const auto grads = torch::autograd::grad({loss}, {features, weight});
  const auto loss_value = [&] { return loss_of(features.detach()).item<double>(); };
  expect_central_differences(features.detach(), grads[0], loss_value, 12, 7919, 1e-6, "S");
  expect_central_differences(weight, grads[1], loss_value, 8, 104729, 1e-6, "W_g");
}

TEST(MdaNet, DeterministicUnderAFixedSeed) {
  const auto build_and_run = [] {
    torch::manual_seed(42);
    MdaNet net(tiny());
    net->eval();
    torch::manual_seed(43);
    return net->forward(torch::rand({1, 3, 48, 48})).attention;
  };
  EXPECT_TRUE(torch::equal(build_and_run(), build_and_run()));
}

TEST(MdaNet, HowConfigurationIsHowsAttentionAndSmoothedReduction) {
  MdaArchitecture a = tiny(1, 16, "l2");
  a.channel_mapping = false;
  a.stop_gradient = false;
  a.smoothing = true;
  torch::manual_seed(4);
  MdaNet net(a);
  net->eval();
  const torch::Tensor s = torch::rand({1, 128, 6, 7});
  const AttentionMaps maps = net->head(s);
  EXPECT_TRUE(
      torch::allclose(maps.attention[0][0], (s[0].pow(2).sum(0) + 1e-10).sqrt(), 1e-5, 1e-6));
  const torch::Tensor smoothed = torch::nn::functional::avg_pool2d(
      s,
      torch::nn::functional::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
  auto* reduction = net->named_modules()["reduction"]->as<torch::nn::Conv2dImpl>();
  ASSERT_NE(reduction, nullptr);
  EXPECT_TRUE(torch::allclose(maps.descriptors, reduction->forward(smoothed), 1e-5, 1e-6));
}

TEST(MdaNet, LocalFeaturesAreTheTopDistinctLocationsOverScales) {
  torch::manual_seed(5);
  MdaNet net(tiny(4, 16));
  net->eval();
  const torch::Tensor image = torch::rand({1, 3, 64, 80});
  const LocalFeatures f = net->extract_local(image, {1.0, 0.5}, 50);
  ASSERT_EQ(f.count(), 50);
  EXPECT_EQ(f.dim, 16);
  EXPECT_FLOAT_EQ(f.strengths[0], 1.0f);
  std::set<std::tuple<int, int, float>> places;
  for (int64_t i = 0; i < f.count(); ++i) {
    if (i) {
      EXPECT_LE(f.strengths[static_cast<size_t>(i)], f.strengths[static_cast<size_t>(i - 1)]);
    }
    EXPECT_TRUE(places
                    .insert({f.xs[static_cast<size_t>(i)], f.ys[static_cast<size_t>(i)],
                             f.scales[static_cast<size_t>(i)]})
                    .second);
  }
  // Feature 0's descriptor is L at its location, and its head is the argmax there.
  torch::NoGradGuard no_grad;
  torch::Tensor x = image;
  if (f.scales[0] != 1.0f) {
    x = torch::nn::functional::interpolate(
        image, torch::nn::functional::InterpolateFuncOptions()
                   .scale_factor(std::vector<double>{f.scales[0], f.scales[0]})
                   .mode(torch::kBilinear)
                   .align_corners(false));
  }
  const AttentionMaps maps = net->forward(x);
  const torch::Tensor expected = maps.descriptors[0].select(1, f.ys[0]).select(1, f.xs[0]);
  for (int64_t k = 0; k < 16; ++k)
    EXPECT_NEAR(f.descriptors[static_cast<size_t>(k)], expected[k].item<float>(), 1e-4);
  EXPECT_EQ(maps.attention[0].select(1, f.ys[0]).select(1, f.xs[0]).argmax().item<int64_t>(),
            f.heads[0]);
  // Asking for more features than locations keeps them all.
  const AttentionMaps quarter = net->forward(torch::rand({1, 3, 16, 20}));  // 64 x 80 at scale 0.25
  EXPECT_EQ(net->extract_local(image, {0.25}, 100000).count(),
            quarter.attention.size(2) * quarter.attention.size(3));
}

// Two heads of very different scale over six locations (method.md 1.8's selection modes).
struct SelectionCase {
  HeadSelection selection;
  int64_t keep;
  std::vector<int64_t> positions, heads;
  std::vector<float> scores;
};

TEST(FeatureSelection, JointHeadMaxAndQuotaPickTheDocumentedLocations) {
  const torch::Tensor attention = torch::tensor({10.f, 20.f, 30.f, 40.f, 50.f, 80.f,  // head 0
                                                 0.9f, 0.7f, 0.1f, 0.2f, 0.3f, 0.05f})
                                      .reshape({2, 6});
  const std::vector<SelectionCase> cases = {
      // joint: head 0's values dominate everywhere, divided by the image's maximum (80)
      {HeadSelection::kJoint, 4, {5, 4, 3, 2}, {0, 0, 0, 0}, {1.f, 0.625f, 0.5f, 0.375f}},
      // head_max: head 0 / 80 = .125 .25 .375 .5 .625 1, head 1 / 0.9 = 1 .78 .11 .22 .33 .06;
      // the tie at 1 keeps the lower location first
      {HeadSelection::kHeadMax, 4, {0, 5, 1, 4}, {1, 0, 1, 0}, {1.f, 1.f, 0.7f / 0.9f, 0.625f}},
      // quota: two each (head 0: 5, 4; head 1: 0, 1), then sorted by score
      {HeadSelection::kQuota, 4, {5, 0, 1, 4}, {0, 1, 1, 0}, {1.f, 1.f, 0.7f / 0.9f, 0.625f}},
      // quota with a remainder: the fifth by head_max among the untaken (3: .5 > 2: .375)
      {HeadSelection::kQuota,
       5,
       {5, 0, 1, 4, 3},
       {0, 1, 1, 0, 0},
       {1.f, 1.f, 0.7f / 0.9f, 0.625f, 0.5f}},
  };
  for (const SelectionCase& c : cases) {
    const std::string name = head_selection_name(c.selection) + " keep " + std::to_string(c.keep);
    const SelectedLocations s = select_feature_locations(attention, c.keep, c.selection);
    ASSERT_EQ(s.positions.numel(), c.keep) << name;
    for (int64_t i = 0; i < c.keep; ++i) {
      const size_t k = static_cast<size_t>(i);
      EXPECT_EQ(s.positions[i].item<int64_t>(), c.positions[k]) << name << " #" << i;
      EXPECT_EQ(s.heads[i].item<int64_t>(), c.heads[k]) << name << " #" << i;
      EXPECT_NEAR(s.scores[i].item<float>(), c.scores[k], 1e-6) << name << " #" << i;
    }
  }
  test::expect_error([&] { select_feature_locations(attention, 7, HeadSelection::kQuota); },
                     {"7 of 6"});
  test::expect_error([&] { parse_head_selection("per_head", "evaluation.selection"); },
                     {"evaluation.selection", "per_head"});
}

TEST(FeatureSelection, EveryModeKeepsDistinctLocationsOnARealNetwork) {
  torch::manual_seed(6);
  MdaNet net(tiny(4, 16));
  net->eval();
  const torch::Tensor image = torch::rand({1, 3, 64, 80});
  const LocalFeatures joint = net->extract_local(image, {1.0, 0.5}, 50);
  const LocalFeatures joint_again =
      net->extract_local(image, {1.0, 0.5}, 50, HeadSelection::kJoint);
  EXPECT_EQ(joint.strengths, joint_again.strengths);  // the default is the paper's joint ranking
  for (const HeadSelection mode :
       {HeadSelection::kJoint, HeadSelection::kHeadMax, HeadSelection::kQuota}) {
    const LocalFeatures f = net->extract_local(image, {1.0, 0.5}, 50, mode);
    ASSERT_EQ(f.count(), 50) << head_selection_name(mode);
    std::set<std::tuple<int, int, float>> places;
    std::vector<int> per_head(4, 0);
    for (int64_t i = 0; i < f.count(); ++i) {
      const size_t k = static_cast<size_t>(i);
      EXPECT_TRUE(places.insert({f.xs[k], f.ys[k], f.scales[k]}).second);
      EXPECT_LE(f.strengths[k], 1.0f);
      if (i) {
        EXPECT_LE(f.strengths[k], f.strengths[k - 1]);
      }
      ++per_head[static_cast<size_t>(f.heads[k])];
    }
    if (mode == HeadSelection::kQuota) {
      for (int count : per_head) EXPECT_GE(count, 50 / 4);  // every head gets its share
    }
  }
}

// Several images of one size through the network together: each gets the features it gets alone.
TEST(MdaNet, BatchedExtractionMatchesOneImageAtATime) {
  torch::manual_seed(7);
  MdaNet net(tiny(3, 16));
  net->eval();
  const torch::Tensor images = torch::rand({3, 3, 72, 96});
  const std::vector<double> scales = {1.0, 0.707, 0.5};
  const std::vector<LocalFeatures> batch = net->extract_local_batch(images, scales, 60);
  ASSERT_EQ(batch.size(), 3u);
  for (int64_t b = 0; b < 3; ++b) {
    const LocalFeatures alone = net->extract_local(images.narrow(0, b, 1), scales, 60);
    const LocalFeatures& together = batch[static_cast<size_t>(b)];
    ASSERT_EQ(together.count(), alone.count());
    expect_near_features(alone, together, "image " + std::to_string(b));
    // The strongest feature in place.
    EXPECT_EQ(together.xs[0], alone.xs[0]);
    EXPECT_EQ(together.ys[0], alone.ys[0]);
    EXPECT_EQ(together.heads[0], alone.heads[0]);
  }
  EXPECT_NE(batch[0].descriptors, batch[1].descriptors);
  test::expect_error(
      [&] {
        net->extract_local_batch(torch::rand({2, 1, 8, 8}), scales, 5);
      },
      {"B x 3 x H x W"});
}

// The CUDA build check: the same network and image give the same local features on the GPU.
TEST(MdaNet, CudaExtractionMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible";
  torch::manual_seed(6);
  MdaNet net(tiny(4, 16));
  net->eval();
  const torch::Tensor image = torch::rand({1, 3, 96, 128});
  const LocalFeatures cpu = net->extract_local(image, {1.0, 0.707, 0.5}, 100);
  net->to(torch::kCUDA);
  const LocalFeatures gpu = net->extract_local(image.to(torch::kCUDA), {1.0, 0.707, 0.5}, 100);
  ASSERT_EQ(gpu.count(), cpu.count());
  ASSERT_EQ(gpu.dim, cpu.dim);
  // Near-equal strengths may swap places under another summation order: compare the kept
  // locations as sets and the strongest feature exactly in place.
  std::set<std::tuple<int, int, float>> cpu_places, gpu_places;
  for (size_t i = 0; i < static_cast<size_t>(cpu.count()); ++i) {
    cpu_places.insert({cpu.xs[i], cpu.ys[i], cpu.scales[i]});
    gpu_places.insert({gpu.xs[i], gpu.ys[i], gpu.scales[i]});
    EXPECT_NEAR(gpu.strengths[i], cpu.strengths[i], 1e-3) << "feature " << i;
  }
  size_t common = 0;
  for (const auto& place : cpu_places) common += gpu_places.count(place);
  EXPECT_GE(common, cpu_places.size() - 2);
  EXPECT_EQ(gpu.xs[0], cpu.xs[0]);
  EXPECT_EQ(gpu.ys[0], cpu.ys[0]);
  EXPECT_EQ(gpu.heads[0], cpu.heads[0]);
  // The image again inside a batch of two on the GPU.
  const std::vector<LocalFeatures> batch = net->extract_local_batch(
      torch::cat({torch::rand({1, 3, 96, 128}), image}).to(torch::kCUDA), {1.0, 0.707, 0.5}, 100);
  ASSERT_EQ(batch[1].count(), gpu.count());
  EXPECT_NEAR(batch[1].strengths[0], gpu.strengths[0], 1e-3);
  EXPECT_EQ(batch[1].xs[0], gpu.xs[0]);
  for (int64_t k = 0; k < cpu.dim; ++k)
    EXPECT_NEAR(gpu.descriptors[static_cast<size_t>(k)], cpu.descriptors[static_cast<size_t>(k)],
                1e-3);
}

TEST(ModelFile, RoundTripAndClearErrors) {
  test::TempDir dir;
  torch::manual_seed(6);
  MdaNet net(tiny(2, 8, "conv1x1"));
  net->eval();
  const std::string path = dir.path("m.mdam");
  save_model(path, *net);
  MdaNet back = load_model(path);
  back->eval();
  EXPECT_EQ(back->architecture().attention, "conv1x1");
  const torch::Tensor x = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::equal(net->forward(x).attention, back->forward(x).attention));

  std::vector<uint8_t> bytes = read_file_bytes(path);
  write_file_atomic(
      dir.path("cut.mdam"),
      std::string(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)));
  test::expect_error([&] { load_model(dir.path("cut.mdam")); }, {"cut.mdam", "checksum"});
  std::vector<uint8_t> newer = bytes;
  newer[8] = 9;
  write_file_atomic(dir.path("newer.mdam"), std::string(newer.begin(), newer.end()));
  test::expect_error([&] { load_model(dir.path("newer.mdam")); }, {"newer.mdam", "version 9"});
  write_file_atomic(dir.path("foreign.mdam"),
                    "PK\x03\x04 something else entirely, long enough to read");
  test::expect_error([&] { load_model(dir.path("foreign.mdam")); }, {"foreign.mdam", "magic"});
  MdaNet other(tiny(4, 8));
  test::expect_error([&] { load_model_into(path, *other); },
                     {"m.mdam", "mda-resnet18-s2-n2-d8-conv1x1"});
}

TEST(ModelFile, InferenceLoadingRunsChannelsLastWithTheSameFeatures) {
  test::TempDir dir;
  torch::manual_seed(8);
  MdaNet net(tiny(3, 16));
  {
    // BatchNorm statistics and affine parameters far from the identity, so folding them into the
    // convolutions is exercised.
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_buffers()) {
      if (item.key().find("running_mean") != std::string::npos) item.value().normal_(0, 0.2);
      if (item.key().find("running_var") != std::string::npos) item.value().uniform_(0.3, 2.0);
    }
    for (auto& item : net->named_parameters()) {
      const bool batch_norm = item.key().find(".bn") != std::string::npos ||
                              item.key().rfind("bn", 0) == 0 ||
                              item.key().find("downsample.1") != std::string::npos;
      if (batch_norm && item.key().find("weight") != std::string::npos)
        item.value().uniform_(0.5, 1.5);
      if (batch_norm && item.key().find("bias") != std::string::npos) item.value().normal_(0, 0.2);
    }
  }
  const std::string path = dir.path("m.mdam");
  save_model(path, *net);
  MdaNet plain = load_model(path);
  plain->eval();
  MdaNet fast = load_model_for_inference(path, torch::kCPU);
  int64_t convolutions = 0;
  for (const torch::Tensor& p : fast->parameters()) {
    if (p.dim() != 4) continue;
    ++convolutions;
    EXPECT_TRUE(p.is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
  EXPECT_GT(convolutions, 10);
  torch::InferenceMode inference;
  const torch::Tensor image = torch::rand({1, 3, 90, 130});
  const LocalFeatures a = plain->extract_local(image, {1.0, 0.707, 0.5}, 200);
  const LocalFeatures b = fast->extract_local(image, {1.0, 0.707, 0.5}, 200);
  ASSERT_EQ(a.count(), b.count());
  // The same features; rows whose strengths tie within rounding may swap places.
  for (int64_t i = 0; i < a.count(); ++i) {
    EXPECT_NEAR(a.strengths[static_cast<size_t>(i)], b.strengths[static_cast<size_t>(i)], 1e-5);
    double nearest = 1e30;
    for (int64_t j = std::max<int64_t>(0, i - 3); j < std::min(b.count(), i + 4); ++j) {
      double distance = 0;
      for (int64_t t = 0; t < a.dim; ++t) {
        distance = std::max<double>(distance,
                                    std::fabs(a.descriptors[static_cast<size_t>(i * a.dim + t)] -
                                              b.descriptors[static_cast<size_t>(j * b.dim + t)]));
      }
      nearest = std::min(nearest, distance);
    }
    EXPECT_LT(nearest, 1e-4) << "feature " << i;
  }
}

// The biases folding leaves on the convolutions follow the network to another device or type
// (they once stayed float on the CPU: a ResNet loaded for inference on CUDA could not run).
TEST(ModelFile, FoldedBiasesMoveWithTheNetwork) {
  test::TempDir dir;
  const std::string path = saved_tiny_model(dir, 9, 2, 8);
  MdaNet fast = load_model_for_inference(path, torch::kCPU);
  fast->to(torch::kFloat64);
  int64_t biases = 0;
  for (const auto& module : fast->backbone()->modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      ASSERT_TRUE(conv->bias.defined());
      EXPECT_EQ(conv->bias.scalar_type(), torch::kFloat64);
      ++biases;
    }
  }
  EXPECT_GE(biases, 10);
  torch::InferenceMode inference;
  const LocalFeatures f =
      fast->extract_local(torch::rand({1, 3, 64, 64}, torch::kFloat64), {1.0}, 20);
  EXPECT_EQ(f.count(), 20);
}

// The same folded model loaded for inference straight onto the GPU (where the CPU-only biases
// of the first folding failed).
TEST(ModelFile, CudaInferenceLoadingMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible";
  test::TempDir dir;
  const std::string path = saved_tiny_model(dir, 9, 2, 8);
  MdaNet cpu = load_model_for_inference(path, torch::kCPU);
  MdaNet gpu = load_model_for_inference(path, torch::kCUDA);
  torch::InferenceMode inference;
  const torch::Tensor image = torch::rand({1, 3, 64, 80});
  const LocalFeatures a = cpu->extract_local(image, {1.0, 0.5}, 30);
  const LocalFeatures b = gpu->extract_local(image.to(torch::kCUDA), {1.0, 0.5}, 30);
  ASSERT_EQ(a.count(), b.count());
  EXPECT_NEAR(a.strengths[0], b.strengths[0], 1e-3);
}

// Per location of two B x C x H x W maps, the cosine of their C-vectors: mean and minimum.
std::pair<double, double> location_cosines(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor c = torch::cosine_similarity(a.flatten(2), b.flatten(2), 1, 1e-12);
  return {c.mean().item<double>(), c.min().item<double>()};
}

TEST(Int8MobileNet, MatchesFloatOnEverySideParity) {
  const std::string reason = Int8MobileNetV1::unavailable_reason();
  if (!reason.empty()) GTEST_SKIP() << "SKIPPED: " << reason;
  torch::manual_seed(11);
  MobileNetImpl net(1, 1);
  {
    // He-initialised weights keep the activations' scale through the 23 layers, as trained
    // weights do (the default initialisation shrinks them towards zero, where int8 steps of
    // 6/255 would be all there is to compare).
    torch::NoGradGuard no_grad;
    for (const TfConv& conv : net.convs()) {
      const torch::Tensor& w = conv->conv->weight;
      w.normal_(0, std::sqrt(2.0 / static_cast<double>(w[0].numel())));
      conv->conv->bias.uniform_(-0.1, 0.1);
    }
  }
  net.eval();
  // Even and odd sides meet the five stride-2 layers in every combination; sizes change from call
  // to call, small ones among them (where oneDNN cannot reuse a packing made for another size).
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{64, 64},   {65, 47}, {50, 77}, {33, 96},
                                                          {300, 260}, {20, 31}, {61, 80}, {64, 64}};
  std::vector<torch::Tensor> inputs, expected;
  torch::InferenceMode inference;
  for (const auto& [h, w] : sizes) {
    inputs.push_back(torch::rand({1, 3, h, w}));
    expected.push_back(net.forward(inputs.back()));
  }
  ASSERT_EQ(net.enable_int8_inference(), "");
  for (size_t i = 0; i < sizes.size(); ++i) {
    const torch::Tensor got = net.forward(inputs[i]);
    ASSERT_EQ(got.sizes(), expected[i].sizes()) << sizes[i].first << " x " << sizes[i].second;
    const auto [mean, lowest] = location_cosines(got, expected[i]);
    EXPECT_GT(mean, 0.99) << sizes[i].first << " x " << sizes[i].second;
    EXPECT_GT(lowest, 0.9) << sizes[i].first << " x " << sizes[i].second;
    EXPECT_LE(got.max().item<float>(), 6.0f);  // the saturation is the ReLU6
  }
  // Training-mode calls (gradients wanted) still take the float path.
  torch::Tensor x = inputs[0].clone().set_requires_grad(true);
  {
    c10::InferenceMode off(false);
    torch::Tensor y = torch::rand({1, 3, 64, 64}).requires_grad_(true);
    EXPECT_TRUE(net.forward(y).requires_grad());
  }
}

TEST(ModelFile, Bfloat16InferenceKeepsTheMapsWithinItsRounding) {
  test::TempDir dir;
  const std::string path = saved_tiny_model(dir, 5, 3, 16);
  if (!cpu_has_bfloat16()) {
    test::expect_error(
        [&] { load_model_for_inference(path, torch::kCPU, BackbonePrecision::kBfloat16); },
        {"evaluation.precision bf16", "no bfloat16 instructions"});
    GTEST_SKIP() << "SKIPPED: this CPU has no bfloat16 instructions (the refusal was checked)";
  }
  MdaNet plain = load_model_for_inference(path, torch::kCPU);
  MdaNet fast = load_model_for_inference(path, torch::kCPU, BackbonePrecision::kBfloat16);
  EXPECT_EQ(fast->backbone()->parameters().front().scalar_type(), torch::kBFloat16);
  torch::InferenceMode inference;
  const torch::Tensor image = torch::rand({1, 3, 90, 130});
  const AttentionMaps a = plain->forward(image);
  const AttentionMaps b = fast->forward(image);
  EXPECT_EQ(b.descriptors.scalar_type(), torch::kFloat32);
  ASSERT_EQ(a.descriptors.sizes(), b.descriptors.sizes());
  const auto [mean, lowest] = location_cosines(a.descriptors, b.descriptors);
  EXPECT_GT(mean, 0.995) << "lowest " << lowest;
  EXPECT_GT(lowest, 0.95) << "mean " << mean;
  const double attention_error =
      ((a.attention - b.attention).abs().max() / a.attention.abs().max()).item<double>();
  EXPECT_LT(attention_error, 0.05);
  EXPECT_GT(attention_error, 0.0);  // bfloat16 did run: float would give exactly the same maps
  const LocalFeatures features = fast->extract_local(image, {1.0, 0.707}, 50);
  EXPECT_EQ(features.count(), 50);
}

TEST(ModelFile, Int8InferenceNeedsAMobileNetV1OnTheCpu) {
  test::TempDir dir;
  MdaNet net(tiny(2, 16));
  const std::string path = dir.path("r.mdam");
  save_model(path, *net);
  test::expect_error([&] { load_model_for_inference(path, torch::kCPU, BackbonePrecision::kInt8); },
                     {"r.mdam", "evaluation.precision int8", "resnet18", "MobileNetV1"});
  test::expect_error(
      [&] {
        load_model_for_inference(path, torch::Device(torch::kCUDA), BackbonePrecision::kInt8);
      },
      {"evaluation.precision int8 runs on the CPU only"});
  MdaArchitecture v2 = tiny(2, 16);
  v2.backbone = "mobilenet_v2";
  v2.skip_layer = 1;
  MdaNet mobile(v2);
  save_model(dir.path("v2.mdam"), *mobile);
  test::expect_error(
      [&] { load_model_for_inference(dir.path("v2.mdam"), torch::kCPU, BackbonePrecision::kInt8); },
      {"mobilenet_v2", "linear bottlenecks"});
}

class TorchvisionReference : public ::testing::TestWithParam<std::tuple<const char*, int>> {};

TEST_P(TorchvisionReference, ForwardMatchesTorchvision) {
  MDA_SKIP_WITHOUT_NUMPY();
  const auto [arch, skip] = GetParam();
  test::TempDir dir;
  const std::string script = std::string(MDA_SOURCE_DIR) + "/tests/torchvision_reference.py";
  const int status = test::run_python(
      script, dir.path() + " " + arch + " " + std::to_string(skip) + " 2>/dev/null");
  if (status != 0) GTEST_SKIP() << "SKIPPED: python3-torchvision is not installed";
  const torch::Tensor x = to_tensor(read_npy(dir.path("input.npy")));
  const torch::Tensor want = to_tensor(read_npy(dir.path("output.npy")));
  for (const char* ext : {".pth", ".safetensors"}) {
    const std::shared_ptr<BackboneImpl> backbone = make_resnet(arch, skip);
    const LoadReport report =
        load_named_tensors(*backbone, read_state_dict(dir.path(std::string(arch) + ext)), "", ext);
    EXPECT_TRUE(report.missing.empty()) << report.missing.size() << " missing";
    EXPECT_FALSE(report.unexpected.empty());  // fc and dropped stages
    backbone->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor got = backbone->forward(x);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT((got - want).abs().max().item<float>(), 1e-4) << arch << ext;
  }
}

INSTANTIATE_TEST_SUITE_P(ResNets, TorchvisionReference,
                         ::testing::Values(std::make_tuple("resnet18", 1),
                                           std::make_tuple("resnet50", 1),
                                           std::make_tuple("resnet34", 0)));

// ImageNet classification with the dequantized Coral TFLite MobileNets (data README's check).
class CoralMobileNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_shared_data()) GTEST_SKIP() << "SKIPPED: ../shared/data is not present";
    if (!image_codecs_available()) GTEST_SKIP() << "SKIPPED: built without image support";
    coral_ = test::shared_data() + "/weights/coral/";
    const std::vector<std::string> lines =
        split(read_file_text(coral_ + "imagenet_labels.txt"), '\n');
    for (const std::string& line : lines) labels_.emplace_back(trim(line));
    // Plain bilinear resize to 224 x 224 (no antialiasing), as the data README's check does.
    const torch::Tensor cat = image_tensor(read_image(coral_ + "cat.bmp"));
    input_ = torch::nn::functional::interpolate(cat, torch::nn::functional::InterpolateFuncOptions()
                                                         .size(std::vector<int64_t>{224, 224})
                                                         .mode(torch::kBilinear)
                                                         .align_corners(false));
  }
  // The V1 embedding extractor loaded into `net` (every layer), and the classifier's layer.
  TfliteConvLayer load_v1_and_head(MobileNetImpl& net) {
    const std::string extractor = coral_ + "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
    const auto layers = tflite_conv_layers(read_tflite(extractor), extractor);
    EXPECT_EQ(load_tflite_layers(net, layers, extractor), layers.size());
    const std::string head = coral_ + "mobilenet_quant_v1_224_head_layers.tflite";
    const auto head_layers = tflite_conv_layers(read_tflite(head), head);
    if (head_layers.size() != 1u) fail(head, ": expected one layer, found ", head_layers.size());
    return head_layers[0];
  }
  // Global average pool, then the 1x1 logits convolution, then softmax.
  std::pair<std::string, float> classify(const torch::Tensor& features,
                                         const TfliteConvLayer& logits) {
    const torch::Tensor pooled = features.mean({2, 3}, true);
    const torch::Tensor out =
        torch::conv2d(pooled, to_tensor(logits.weight), to_tensor(logits.bias)).flatten();
    const torch::Tensor p = torch::softmax(out, 0);
    const int64_t best = p.argmax().item<int64_t>();
    return {labels_.at(static_cast<size_t>(best)), p[best].item<float>()};
  }
  std::string coral_;
  std::vector<std::string> labels_;
  torch::Tensor input_;
};

TEST_F(CoralMobileNet, V1EmbeddingExtractorAndHeadSeeAnEgyptianCat) {
  MobileNetImpl net(1, 0);
  const TfliteConvLayer logits = load_v1_and_head(net);
  torch::NoGradGuard no_grad;
  const auto [label, probability] = classify(net.forward(input_), logits);
  EXPECT_EQ(label, "Egyptian cat");
  EXPECT_NEAR(probability, 0.87, 0.02);
  std::cout << "MobileNetV1: " << label << " " << probability << "\n";
}

TEST_F(CoralMobileNet, V2SeesAnEgyptianCat) {
  MobileNetImpl net(2, 0);
  const std::string file = coral_ + "mobilenet_v2_1.0_224_quant.tflite";
  const auto layers = tflite_conv_layers(read_tflite(file), file);
  ASSERT_EQ(load_tflite_layers(net, layers, file),
            layers.size() - 1);  // the rest is the classifier
  torch::NoGradGuard no_grad;
  const auto [label, probability] = classify(net.forward(input_), layers.back());
  EXPECT_EQ(label, "Egyptian cat");
  EXPECT_NEAR(probability, 0.82, 0.02);
  std::cout << "MobileNetV2: " << label << " " << probability << "\n";
}

// The int8 network with the Coral weights (uint8 in the file, rounded again per channel) still
// sees the cat, with nearly the float probability, and its feature map is the float one's within
// the int8 steps at a size whose sides are odd at some stride-2 layers and even at others.
TEST_F(CoralMobileNet, V1Int8SeesTheSameCatAndFeatures) {
  const std::string reason = Int8MobileNetV1::unavailable_reason();
  if (!reason.empty()) GTEST_SKIP() << "SKIPPED: " << reason;
  MobileNetImpl net(1, 0);
  const TfliteConvLayer logits = load_v1_and_head(net);
  net.eval();
  torch::InferenceMode inference;
  const torch::Tensor odd =
      torch::nn::functional::interpolate(input_, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{301, 250})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  const torch::Tensor float_maps = net.forward(odd);
  const auto [float_label, float_probability] = classify(net.forward(input_), logits);
  ASSERT_EQ(net.enable_int8_inference(), "");
  const auto [label, probability] = classify(net.forward(input_), logits);
  EXPECT_EQ(label, float_label);
  EXPECT_NEAR(probability, float_probability, 0.1);
  std::cout << "MobileNetV1 int8: " << label << " " << probability << " (float "
            << float_probability << ")\n";
  const torch::Tensor int8_maps = net.forward(odd);
  ASSERT_EQ(int8_maps.sizes(), float_maps.sizes());
  const auto [mean, lowest] = location_cosines(int8_maps, float_maps);
  std::cout << "int8 / float feature maps, cosine per location: mean " << mean << ", lowest "
            << lowest << "\n";
  EXPECT_GT(mean, 0.95) << "lowest " << lowest;
  EXPECT_GT(lowest, 0.85) << "mean " << mean;
}

TEST_F(CoralMobileNet, ImportIntoTheStride16MdaBackbone) {
  MdaArchitecture a;
  a.backbone = "mobilenet_v1";
  a.skip_layer = 1;
  a.heads = 4;
  a.dim = 32;
  MdaNet net(a);
  const std::string file = coral_ + "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite";
  const LoadReport report = import_backbone_weights(*net, file);
  EXPECT_EQ(report.loaded.size(), 23u);     // Conv2d_0 + 11 depthwise-separable blocks
  EXPECT_EQ(report.unexpected.size(), 4u);  // blocks 12 and 13
  EXPECT_EQ(net->backbone_channels(), 512);
  net->eval();
  const AttentionMaps maps = net->forward(input_);
  EXPECT_EQ(maps.attention.size(2), 14);  // 224 / 16
  // A ResNet cannot take TFLite weights.
  MdaNet resnet(tiny());
  test::expect_error([&] { import_backbone_weights(*resnet, file); }, {"MobileNet backbone"});
}

}  // namespace
}  // namespace mda

namespace mda {
namespace {

TEST(PcaWhitening, WhitenedDescriptorsHaveZeroMeanAndIdentityCovariance) {
  torch::manual_seed(11);
  // Correlated data: a random linear mix of independent coordinates with very different scales.
  const torch::Tensor z =
      torch::randn({4000, 12}, torch::kFloat64) * torch::linspace(0.1, 5.0, 12, torch::kFloat64);
  const torch::Tensor mix = torch::randn({12, 12}, torch::kFloat64);
  const torch::Tensor x = (z.mm(mix) + 3.0).to(torch::kFloat32);
  const Whitening w = pca_whitening(x, 8);
  ASSERT_EQ(w.weight.sizes().vec(), (std::vector<int64_t>{8, 12}));
  const torch::Tensor y = x.mm(w.weight.t()) + w.bias;
  EXPECT_LT(y.mean(0).abs().max().item<float>(), 1e-3);
  const torch::Tensor centred = y - y.mean(0);
  const torch::Tensor covariance = centred.t().mm(centred) / static_cast<double>(y.size(0));
  EXPECT_TRUE(torch::allclose(covariance, torch::eye(8), 1e-3, 1e-3)) << covariance;
  // The kept directions are those of largest variance: projecting onto the weight rows before
  // scaling gives decreasing variances.
  const torch::Tensor raw_variance =
      (x - x.mean(0)).mm((w.weight / w.weight.norm(2, 1, true)).t()).var(0);
  for (int64_t i = 1; i < 8; ++i)
    EXPECT_GE(raw_variance[i - 1].item<float>(), raw_variance[i].item<float>() * 0.999);
  test::expect_error([&] { pca_whitening(x, 13); }, {"13 dimensions from 12"});
  // Statistics accumulated in chunks give the same whitening as all rows at once.
  WhiteningStatistics chunks;
  for (int64_t start = 0; start < 4000; start += 700)
    chunks.add(x.narrow(0, start, std::min<int64_t>(700, 4000 - start)));
  EXPECT_EQ(chunks.count(), 4000);
  const Whitening streamed = chunks.whitening(8);
  // Eigenvectors are defined up to sign: compare the whitened outputs' absolute values.
  const torch::Tensor y_streamed = x.mm(streamed.weight.t()) + streamed.bias;
  EXPECT_TRUE(torch::allclose(y_streamed.abs(), y.abs(), 1e-3, 1e-3));
}

TEST(PcaWhitening, InitialisesTheReductionLayer) {
  torch::manual_seed(12);
  MdaNet net(tiny(2, 16));
  net->eval();
  const torch::Tensor s = torch::rand({1, 128, 6, 6});
  const torch::Tensor descriptors = torch::rand({500, 128});
  set_reduction(*net, pca_whitening(descriptors, 16));
  const Whitening w = pca_whitening(descriptors, 16);
  const torch::Tensor local = net->head(s).descriptors[0].reshape({16, -1}).t();
  const torch::Tensor expected = s[0].reshape({128, -1}).t().mm(w.weight.t()) + w.bias;
  EXPECT_TRUE(torch::allclose(local, expected, 1e-4, 1e-4));
  test::expect_error([&] { set_reduction(*net, pca_whitening(descriptors, 8)); }, {"does not fit"});
}

}  // namespace
}  // namespace mda

namespace mda {
namespace {

TEST(Losses, ContrastiveMatchesHandComputedValues) {
  const torch::Tensor q = torch::tensor({{1.0, 0.0}}, torch::kFloat64);  // N = 1
  // Positive (0, 1): d^2 = 2. Negative (0.96, 0.28): d^2 = 0.0016 + 0.0784 = 0.08, d = 0.28284,
  // (0.8 - 0.28284)^2 = 0.267452. Negative (0, 1): d = 1.414 > margin, 0.
  const torch::Tensor others =
      torch::tensor({{{0.0, 1.0}}, {{0.96, 0.28}}, {{0.0, 1.0}}}, torch::kFloat64);
  const double loss = contrastive_loss(q, others, {1, 0, 0}, 0.8).item<double>();
  EXPECT_NEAR(loss, 2.0 + std::pow(0.8 - std::sqrt(0.08), 2), 1e-9);
  // Two identical heads count twice (summed over heads).
  const torch::Tensor q2 = torch::cat({q, q});
  const torch::Tensor others2 = torch::cat({others, others}, 1);
  EXPECT_NEAR(contrastive_loss(q2, others2, {1, 0, 0}, 0.8).item<double>(), 2 * loss, 1e-9);
  test::expect_error([&] { contrastive_loss(q, others, {1, 0}, 0.8); }, {"2 labels for 3 images"});
  test::expect_error([&] { contrastive_loss(q, others, {1, 0, 2}, 0.8); }, {"label 2"});
}

TEST(Losses, DiversityIsZeroForIdenticalAndMinusOneForDisjointMaps) {
  const torch::Tensor same =
      torch::rand({2, 4, 5, 6}, torch::kFloat64).select(1, 0).unsqueeze(1).repeat({1, 4, 1, 1});
  EXPECT_NEAR(diversity_regularizer(same).item<double>(), 0.0, 1e-12);
  // Head i is large only on row i: softmax mass on disjoint supports.
  torch::Tensor disjoint = torch::zeros({1, 3, 3, 4}, torch::kFloat64);
  for (int64_t i = 0; i < 3; ++i) disjoint[0][i][i].fill_(100.0);
  EXPECT_NEAR(diversity_regularizer(disjoint).item<double>(), -1.0, 1e-9);
  // Hand-computed: softmax(0, 0) = (0.5, 0.5), softmax(ln 3, 0) = (0.75, 0.25);
  // Bhattacharyya coefficient sqrt(0.375) + sqrt(0.125) = 0.965926; L_reg = -0.034074.
  const torch::Tensor two =
      torch::tensor({0.0, 0.0, std::log(3.0), 0.0}, torch::kFloat64).view({1, 2, 1, 2});
  EXPECT_NEAR(diversity_regularizer(two).item<double>(), std::sqrt(0.375) + std::sqrt(0.125) - 1.0,
              1e-9);
  EXPECT_EQ(diversity_regularizer(torch::rand({2, 1, 3, 3})).item<float>(),
            0.0f);  // one head: no pairs
}

// Why lambda > 0 inflates attention (docs/training.md): scaling the maps up sharpens their
// softmax, so heads that peak in different places move apart without changing where they look.
TEST(Losses, DiversityFallsAsTheMapsAreScaledUp) {
  torch::manual_seed(4);
  const torch::Tensor maps = torch::rand({1, 3, 6, 7});
  double previous = 0;
  for (const double scale : {1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0}) {
    const double reg = diversity_regularizer(maps * scale).item<double>();
    EXPECT_LT(reg, previous) << "scale " << scale;
    previous = reg;
  }
  EXPECT_LT(previous, -0.95);  // nearly disjoint distributions from the same maps
}

// Why only the diversity term moves a head's scale (docs/training.md, "The heads split in two"):
// each head's pooled descriptor is L2-normalised, so multiplying one head's map by a constant
// leaves the descriptors, and with them the contrastive loss, unchanged (but for the 1e-6 added
// to the norm, negligible at these descriptors' norms); the diversity term changes.
TEST(Losses, ContrastiveLossDoesNotSeeAHeadsScaleTheDiversityTermDoes) {
  torch::manual_seed(21);
  const int64_t images = 3, heads = 4, dim = 8;
  AttentionMaps maps{torch::rand({images, heads, 5, 6}, torch::kFloat64) + 0.1,
                     torch::randn({images, dim, 5, 6}, torch::kFloat64)};
  const auto losses = [&](const torch::Tensor& attention) {
    const torch::Tensor g = MdaNetImpl::pooled_descriptors({attention, maps.descriptors});
    const double contrastive =
        contrastive_loss(g[0], g.slice(0, 1, images), {1, 0}, 0.8).item<double>();
    return std::make_pair(contrastive, diversity_regularizer(attention).item<double>());
  };
  const auto [contrastive, diversity] = losses(maps.attention);
  for (const double scale : {0.01, 7.3, 250.0}) {
    torch::Tensor scaled = maps.attention.clone();
    scaled.select(1, 2).mul_(scale);  // head 3 of every image
    const auto [scaled_contrastive, scaled_diversity] = losses(scaled);
    EXPECT_NEAR(scaled_contrastive, contrastive, 1e-4 * contrastive) << "scale " << scale;
    EXPECT_GT(std::abs(scaled_diversity - diversity), 1e-3) << "scale " << scale;
  }
}

TEST(Losses, DiversityGradientMatchesFiniteDifferences) {
  torch::manual_seed(13);
  const torch::Tensor a = (torch::rand({2, 3, 4, 5}, torch::kFloat64) * 3).requires_grad_(true);
  const torch::Tensor grad = torch::autograd::grad({diversity_regularizer(a)}, {a})[0];
  expect_central_differences(
      a.detach(), grad, [&] { return diversity_regularizer(a.detach()).item<double>(); }, 15, 37,
      1e-7, "a");
}

}  // namespace
}  // namespace mda
