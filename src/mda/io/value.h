// A tree of plain data (null, bool, int, float, string, list, ordered dict, numeric array): what
// JSON, YAML and the pickle subset load into, and what configurations are made of.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "mda/io/ndarray.h"

namespace mda {

class Value {
 public:
  enum class Kind { kNull, kBool, kInt, kFloat, kString, kList, kDict, kArray };
  using List = std::vector<Value>;
  using Dict = std::vector<std::pair<std::string, Value>>;  // keeps insertion order

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : data_(b) {}
  Value(int i) : data_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : data_(i) {}
  Value(double d) : data_(d) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(List list) : data_(std::make_shared<List>(std::move(list))) {}
  Value(Dict dict) : data_(std::make_shared<Dict>(std::move(dict))) {}
  Value(NdArray array) : data_(std::make_shared<NdArray>(std::move(array))) {}
  static Value empty_list() { return Value(List{}); }
  static Value empty_dict() { return Value(Dict{}); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  static const char* kind_name(Kind kind);
  const char* kind_name() const { return kind_name(kind()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_array() const { return kind() == Kind::kArray; }

  // Typed access; each throws mda::Error naming the kinds when the value is of another kind.
  bool as_bool() const;
  int64_t as_int() const;    // also accepts a float holding an exact integer
  double as_double() const;  // accepts int or float
  const std::string& as_string() const;
  const List& as_list() const;
  List& as_list();
  const Dict& as_dict() const;
  Dict& as_dict();
  const NdArray& as_array() const;

  // Dict helpers. find() returns nullptr when the key is absent.
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  // Inserts or replaces, keeping the position of an existing key.
  void set(const std::string& key, Value value);

  // Lists of numbers, either a list of ints/floats or a 1-D numeric array.
  std::vector<int64_t> to_int_vector() const;
  std::vector<double> to_double_vector() const;

  // Deep copy (lists, dicts and arrays are shared between copies of a Value otherwise).
  Value clone() const;
  bool operator==(const Value& other) const;
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<List>,
               std::shared_ptr<Dict>, std::shared_ptr<NdArray>>
      data_;
};

}  // namespace mda
