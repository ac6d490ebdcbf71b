#include "mda/net/weight_import.h"

#include "mda/io/safetensors.h"
#include "mda/io/torch_checkpoint.h"
#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {

NamedArrays read_state_dict(const std::string& path) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path);
  return read_torch_state_dict(path);
}

std::vector<TfliteConvLayer> tflite_conv_layers(const TfliteModel& model,
                                                const std::string& source) {
  std::vector<TfliteConvLayer> layers;
  for (const TfliteOperator& op : model.operators) {
    if (op.builtin_code != tflite_op::kConv2d && op.builtin_code != tflite_op::kDepthwiseConv2d)
      continue;
    if (op.inputs.size() < 3) fail(source, ": convolution without weights and bias");
    const TfliteTensor& w = model.tensors[static_cast<size_t>(op.inputs[1])];
    const TfliteTensor& b = model.tensors[static_cast<size_t>(op.inputs[2])];
    if (w.shape.size() != 4) fail(source, ": weights '", w.name, "' are not 4-D");
    if (op.stride_h != op.stride_w) fail(source, ": '", w.name, "' has unequal strides");
    if (op.padding != 0)
      fail(source, ": '", w.name, "' uses VALID padding; only SAME is supported");
    TfliteConvLayer layer;
    layer.name = w.name;
    layer.depthwise = op.builtin_code == tflite_op::kDepthwiseConv2d;
    layer.stride = op.stride_h;
    layer.relu6 = op.activation == 3;
    if (op.activation != 0 && op.activation != 3)
      fail(source, ": '", w.name, "' has activation ", op.activation);
    // TFLite: conv [Cout, kh, kw, Cin], depthwise [1, kh, kw, C]. Torch: [Cout, Cin/groups, kh,
    // kw].
    torch::Tensor weight = to_tensor(dequantize(w, source));
    weight = layer.depthwise ? weight.permute({3, 0, 1, 2}) : weight.permute({0, 3, 1, 2});
    layer.weight = to_ndarray(weight.contiguous());
    layer.bias = dequantize(b, source);
    layers.push_back(std::move(layer));
  }
  return layers;
}

size_t load_tflite_layers(MobileNetImpl& mobilenet, const std::vector<TfliteConvLayer>& layers,
                          const std::string& source) {
  const auto& convs = mobilenet.convs();
  if (layers.size() < convs.size()) {
    fail(source, ": has ", layers.size(), " convolutions, the MobileNet needs ", convs.size());
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < convs.size(); ++i) {
    const TfliteConvLayer& layer = layers[i];
    TfConvImpl& conv = *convs[i].ptr();
    const auto expected = conv.conv->weight.sizes().vec();
    if (layer.weight.shape != expected || layer.depthwise != conv.depthwise ||
        layer.stride != conv.stride || layer.relu6 != conv.relu6) {
      fail(source, ": convolution ", i, " ('", layer.name, "', shape ", layer.weight.shape_string(),
           ", stride ", layer.stride, ") does not match ", mobilenet.conv_names()[i], " (shape ",
           NdArray{DType::kFloat32, expected, {}}.shape_string(), ", stride ", conv.stride, ")");
    }
    conv.conv->weight.copy_(to_tensor(layer.weight));
    conv.conv->bias.copy_(to_tensor(layer.bias));
  }
  return convs.size();
}

LoadReport import_backbone_weights(MdaNetImpl& net, const std::string& path) {
  if (!file_exists(path)) fail("weights file '", path, "' does not exist");
  LoadReport report;
  if (ends_with(path, ".tflite")) {
    auto* mobilenet = dynamic_cast<MobileNetImpl*>(net.backbone().get());
    if (!mobilenet)
      fail(path, ": TFLite weights need a MobileNet backbone, the model has ",
           net.architecture().backbone);
    const std::vector<TfliteConvLayer> layers = tflite_conv_layers(read_tflite(path), path);
    const size_t used = load_tflite_layers(*mobilenet, layers, path);
    for (size_t i = 0; i < used; ++i) report.loaded.push_back(mobilenet->conv_names()[i]);
    for (size_t i = used; i < layers.size(); ++i) report.unexpected.push_back(layers[i].name);
    return report;
  }
  report = load_named_tensors(*net.backbone(), read_state_dict(path), "", path);
  if (!report.missing.empty()) {
    fail(path, ": lacks ", report.missing.size(), " backbone tensor(s), e.g. '", report.missing[0],
         "' (is it a ", net.architecture().backbone, " state dict?)");
  }
  return report;
}

}  // namespace mda
