// Importing pretrained backbone weights: torchvision state dicts (.pth/.pt written by torch.save),
// safetensors, and TensorFlow Lite uint8 MobileNets (dequantized, w = scale * (q - zero_point)).
#pragma once

#include <string>
#include <vector>

#include "mda/io/tflite.h"
#include "mda/net/mda_net.h"
#include "mda/net/mobilenet.h"
#include "mda/net/state_dict.h"

namespace mda {

// The tensors of a .pth state dict (a dict of tensors, or a checkpoint with a "state_dict" or
// "model" entry holding one) or of a .safetensors file.
NamedArrays read_state_dict(const std::string& path);

// A convolution of a TFLite MobileNet, in torch layout (Cout x Cin/groups x k x k).
struct TfliteConvLayer {
  std::string name;  // the TFLite weight tensor name
  NdArray weight, bias;
  int64_t stride = 1;
  bool depthwise = false;
  bool relu6 = false;
};
// The CONV_2D and DEPTHWISE_CONV_2D operators of the model, in execution order.
std::vector<TfliteConvLayer> tflite_conv_layers(const TfliteModel& model,
                                                const std::string& source);
// Fills the MobileNet's convolutions in order from `layers`, checking shapes, strides and
// activations. Returns how many layers were used (the rest, e.g. a classifier, is left for the
// caller).
size_t load_tflite_layers(MobileNetImpl& mobilenet, const std::vector<TfliteConvLayer>& layers,
                          const std::string& source);

// Loads pretrained weights into the network's backbone, by name (pth, safetensors: torchvision
// names) or by order (tflite). Tensors of dropped stages (e.g. layer4, fc) are reported as unused.
// A backbone tensor the file lacks is an error.
LoadReport import_backbone_weights(MdaNetImpl& net, const std::string& path);

}  // namespace mda
