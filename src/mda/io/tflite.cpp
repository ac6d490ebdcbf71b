#include "mda/io/tflite.h"

#include <cstring>

#include "mda/util/error.h"
#include "mda/util/fs.h"

namespace mda {
namespace {

// Minimal flatbuffer access with bounds checks on every read: a table is a position whose first
// int32 points (backwards) to its vtable; field k's offset sits at vtable + 4 + 2k.
class FlatBuffer {
 public:
  FlatBuffer(const std::vector<uint8_t>& bytes, const std::string& source)
      : b_(bytes), source_(source) {}

  template <typename T>
  T read(size_t at) const {
    if (at + sizeof(T) > b_.size() || at + sizeof(T) < at) bad("read past the end at ", at);
    T v;
    std::memcpy(&v, b_.data() + at, sizeof(T));
    return v;
  }
  size_t root() const { return read<uint32_t>(0); }

  // Position of field `k` of the table at `table`, or 0 when absent.
  size_t field(size_t table, int k) const {
    const size_t vtable = static_cast<size_t>(static_cast<int64_t>(table) - read<int32_t>(table));
    const uint16_t vtable_size = read<uint16_t>(vtable);
    const size_t slot = 4 + 2 * static_cast<size_t>(k);
    if (slot + 2 > vtable_size) return 0;
    const uint16_t offset = read<uint16_t>(vtable + slot);
    return offset ? table + offset : 0;
  }
  template <typename T>
  T scalar(size_t table, int k, T fallback) const {
    const size_t at = field(table, k);
    return at ? read<T>(at) : fallback;
  }
  // Follows a uoffset stored in field k; 0 when absent.
  size_t indirect(size_t table, int k) const {
    const size_t at = field(table, k);
    return at ? at + read<uint32_t>(at) : 0;
  }
  // A vector of elements of `element_size` bytes: its length, checked to fit the file (a crafted
  // length must not become a huge allocation), and the position of its first element.
  size_t vector_length(size_t vec, size_t element_size = 4) const {
    if (!vec) return 0;
    const size_t length = read<uint32_t>(vec);
    if (vec + 4 > b_.size() || length > (b_.size() - vec - 4) / element_size)
      bad("a vector of ", length, " elements runs past the end of the file");
    return length;
  }
  size_t vector_data(size_t vec) const { return vec + 4; }
  size_t table_in_vector(size_t vec, size_t i) const {
    const size_t at = vector_data(vec) + 4 * i;
    return at + read<uint32_t>(at);
  }
  std::string string_at(size_t pos) const {
    if (!pos) return "";
    const uint32_t n = read<uint32_t>(pos);
    if (pos + 4 + n > b_.size()) bad("string past the end");
    return std::string(reinterpret_cast<const char*>(b_.data()) + pos + 4, n);
  }
  template <typename T>
  std::vector<T> vector_of(size_t vec) const {
    std::vector<T> out(vector_length(vec, sizeof(T)));
    for (size_t i = 0; i < out.size(); ++i) out[i] = read<T>(vector_data(vec) + sizeof(T) * i);
    return out;
  }
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(source_, ": corrupt TFLite file: ", cat(std::forward<Parts>(parts)...));
  }

 private:
  const std::vector<uint8_t>& b_;
  const std::string& source_;
};

// Field indices of the TFLite schema (schema.fbs).
namespace model {
constexpr int kOperatorCodes = 1, kSubgraphs = 2, kBuffers = 4;
}
namespace opcode {
constexpr int kDeprecatedBuiltin = 0, kBuiltin = 3;
}
namespace subgraph {
constexpr int kTensors = 0, kInputs = 1, kOutputs = 2, kOperators = 3;
}
namespace tensor {
constexpr int kShape = 0, kType = 1, kBuffer = 2, kName = 3, kQuantization = 4;
}
namespace quant {
constexpr int kScale = 2, kZeroPoint = 3;
}
namespace op {
constexpr int kOpcodeIndex = 0, kInputs = 1, kOutputs = 2, kOptions = 4;
}
namespace buffer {
constexpr int kData = 0;
}

}  // namespace

TfliteModel parse_tflite(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < 8 || std::memcmp(bytes.data() + 4, "TFL3", 4) != 0) {
    fail(source, ": not a TFLite model (file identifier is not TFL3)");
  }
  const FlatBuffer fb(bytes, source);
  const size_t root = fb.root();
  TfliteModel result;

  std::vector<int> codes;
  const size_t op_codes = fb.indirect(root, model::kOperatorCodes);
  for (size_t i = 0; i < fb.vector_length(op_codes); ++i) {
    const size_t t = fb.table_in_vector(op_codes, i);
    const int deprecated = fb.scalar<int8_t>(t, opcode::kDeprecatedBuiltin, 0);
    const int builtin = fb.scalar<int32_t>(t, opcode::kBuiltin, 0);
    codes.push_back(builtin > deprecated ? builtin : deprecated);
  }

  std::vector<size_t> buffers;
  const size_t buffer_vec = fb.indirect(root, model::kBuffers);
  for (size_t i = 0; i < fb.vector_length(buffer_vec); ++i)
    buffers.push_back(fb.table_in_vector(buffer_vec, i));

  const size_t subgraphs = fb.indirect(root, model::kSubgraphs);
  if (fb.vector_length(subgraphs) < 1) fb.bad("no subgraph");
  const size_t graph = fb.table_in_vector(subgraphs, 0);
  result.inputs = fb.vector_of<int32_t>(fb.indirect(graph, subgraph::kInputs));
  result.outputs = fb.vector_of<int32_t>(fb.indirect(graph, subgraph::kOutputs));

  const size_t tensors = fb.indirect(graph, subgraph::kTensors);
  for (size_t i = 0; i < fb.vector_length(tensors); ++i) {
    const size_t t = fb.table_in_vector(tensors, i);
    TfliteTensor tensor_info;
    tensor_info.name = fb.string_at(fb.indirect(t, tensor::kName));
    tensor_info.shape = fb.vector_of<int32_t>(fb.indirect(t, tensor::kShape));
    tensor_info.type = fb.scalar<int8_t>(t, tensor::kType, 0);
    if (const size_t q = fb.indirect(t, tensor::kQuantization)) {
      tensor_info.scales = fb.vector_of<float>(fb.indirect(q, quant::kScale));
      tensor_info.zero_points = fb.vector_of<int64_t>(fb.indirect(q, quant::kZeroPoint));
    }
    const uint32_t buffer_index = fb.scalar<uint32_t>(t, tensor::kBuffer, 0);
    if (buffer_index >= buffers.size())
      fb.bad("tensor '", tensor_info.name, "' names buffer ", buffer_index);
    const size_t data = fb.indirect(buffers[buffer_index], buffer::kData);
    const size_t n = fb.vector_length(data, 1);
    if (n) {
      const size_t start = fb.vector_data(data);
      if (start + n > bytes.size()) fb.bad("buffer ", buffer_index, " past the end");
      tensor_info.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                              bytes.begin() + static_cast<std::ptrdiff_t>(start + n));
    }
    result.tensors.push_back(std::move(tensor_info));
  }

  const size_t operators = fb.indirect(graph, subgraph::kOperators);
  for (size_t i = 0; i < fb.vector_length(operators); ++i) {
    const size_t t = fb.table_in_vector(operators, i);
    TfliteOperator o;
    const uint32_t code_index = fb.scalar<uint32_t>(t, op::kOpcodeIndex, 0);
    if (code_index >= codes.size()) fb.bad("operator ", i, " names opcode ", code_index);
    o.builtin_code = codes[code_index];
    o.inputs = fb.vector_of<int32_t>(fb.indirect(t, op::kInputs));
    o.outputs = fb.vector_of<int32_t>(fb.indirect(t, op::kOutputs));
    for (int32_t index : o.inputs) {
      if (index >= static_cast<int32_t>(result.tensors.size()))
        fb.bad("operator ", i, " input ", index);
    }
    if (const size_t options = fb.indirect(t, op::kOptions)) {
      if (o.builtin_code == tflite_op::kConv2d) {
        o.padding = fb.scalar<int8_t>(options, 0, 0);
        o.stride_w = fb.scalar<int32_t>(options, 1, 1);
        o.stride_h = fb.scalar<int32_t>(options, 2, 1);
        o.activation = fb.scalar<int8_t>(options, 3, 0);
      } else if (o.builtin_code == tflite_op::kDepthwiseConv2d) {
        o.padding = fb.scalar<int8_t>(options, 0, 0);
        o.stride_w = fb.scalar<int32_t>(options, 1, 1);
        o.stride_h = fb.scalar<int32_t>(options, 2, 1);
        o.depth_multiplier = fb.scalar<int32_t>(options, 3, 1);
        o.activation = fb.scalar<int8_t>(options, 4, 0);
      } else if (o.builtin_code == tflite_op::kAveragePool2d) {
        o.padding = fb.scalar<int8_t>(options, 0, 0);
        o.stride_w = fb.scalar<int32_t>(options, 1, 1);
        o.stride_h = fb.scalar<int32_t>(options, 2, 1);
        o.activation = fb.scalar<int8_t>(options, 5, 0);
      } else if (o.builtin_code == tflite_op::kAdd) {
        o.activation = fb.scalar<int8_t>(options, 0, 0);
      }
    }
    result.operators.push_back(std::move(o));
  }
  return result;
}

TfliteModel read_tflite(const std::string& path) {
  return parse_tflite(read_file_bytes(path), path);
}

NdArray dequantize(const TfliteTensor& t, const std::string& source) {
  NdArray out;
  out.dtype = DType::kFloat32;
  for (int32_t d : t.shape) out.shape.push_back(d);
  const int64_t n = out.size();
  std::vector<float> values(static_cast<size_t>(n));
  const auto scale_of = [&](int64_t i) -> double {
    if (t.scales.empty()) fail(source, ": tensor '", t.name, "' has no quantization scale");
    if (t.scales.size() == 1) return t.scales[0];
    // Per-channel: the quantized dimension is the first (conv) or the last (depthwise); TFLite
    // records it, the MobileNet files here are per-tensor, so only the first is handled.
    const int64_t per = n / static_cast<int64_t>(t.scales.size());
    return t.scales[static_cast<size_t>(i / per)];
  };
  const auto zero_of = [&](int64_t i) -> int64_t {
    if (t.zero_points.empty()) return 0;
    if (t.zero_points.size() == 1) return t.zero_points[0];
    const int64_t per = n / static_cast<int64_t>(t.zero_points.size());
    return t.zero_points[static_cast<size_t>(i / per)];
  };
  const size_t element = t.type == 0 || t.type == 2 ? 4 : (t.type == 3 || t.type == 9 ? 1 : 0);
  if (element == 0) fail(source, ": tensor '", t.name, "' has unsupported type ", t.type);
  if (t.data.size() != static_cast<size_t>(n) * element) {
    fail(source, ": tensor '", t.name, "' holds ", t.data.size(), " bytes for ", n, " values");
  }
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = t.data.data() + i * static_cast<int64_t>(element);
    switch (t.type) {
      case 0:
        std::memcpy(&values[static_cast<size_t>(i)], p, 4);
        break;
      case 2: {
        int32_t q;
        std::memcpy(&q, p, 4);
        values[static_cast<size_t>(i)] = static_cast<float>(scale_of(i) * q);
        break;
      }
      case 3:
        values[static_cast<size_t>(i)] =
            static_cast<float>(scale_of(i) * (static_cast<int64_t>(*p) - zero_of(i)));
        break;
      case 9:
        values[static_cast<size_t>(i)] = static_cast<float>(
            scale_of(i) * (static_cast<int64_t>(static_cast<int8_t>(*p)) - zero_of(i)));
        break;
    }
  }
  out.bytes.resize(values.size() * 4);
  std::memcpy(out.bytes.data(), values.data(), out.bytes.size());
  return out;
}

}  // namespace mda
