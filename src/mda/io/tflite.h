// A reader for TensorFlow Lite flatbuffer models: the tensors (with their uint8/int32 quantization)
// and the operators that the MobileNet files use (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
// RESHAPE, SOFTMAX, ADD). Only what import needs; the graph itself is not executed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

struct TfliteTensor {
  std::string name;
  std::vector<int32_t> shape;
  int type = 0;               // TFLite TensorType: 0 float32, 2 int32, 3 uint8, 4 int64, 9 int8
  std::vector<float> scales;  // per-tensor (one value) or per-channel quantization
  std::vector<int64_t> zero_points;
  std::vector<uint8_t> data;  // empty for activations
};

struct TfliteOperator {
  int builtin_code =
      -1;  // 0 ADD, 1 AVERAGE_POOL_2D, 3 CONV_2D, 4 DEPTHWISE_CONV_2D, 22 RESHAPE, 25 SOFTMAX
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  int stride_w = 1, stride_h = 1;
  int padding = 0;     // 0 SAME, 1 VALID
  int activation = 0;  // 0 none, 1 relu, 3 relu6
  int depth_multiplier = 1;
};

struct TfliteModel {
  std::vector<TfliteTensor> tensors;
  std::vector<TfliteOperator> operators;  // in execution order (first subgraph)
  std::vector<int32_t> inputs, outputs;
};

namespace tflite_op {
constexpr int kAdd = 0, kAveragePool2d = 1, kConv2d = 3, kDepthwiseConv2d = 4, kReshape = 22,
              kSoftmax = 25;
}

TfliteModel read_tflite(const std::string& path);
TfliteModel parse_tflite(const std::vector<uint8_t>& bytes, const std::string& source);

// Float values of a constant tensor: uint8/int8 as scale * (q - zero_point), int32 as scale * q
// (biases), float32 as is. Keeps the TFLite layout and shape.
NdArray dequantize(const TfliteTensor& tensor, const std::string& source);

}  // namespace mda
