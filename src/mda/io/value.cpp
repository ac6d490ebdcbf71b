#include "mda/io/value.h"

#include <cmath>

#include "mda/util/error.h"

namespace mda {

const char* Value::kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kArray:
      return "array";
  }
  return "?";
}

namespace {
[[noreturn]] void wrong_kind(const char* wanted, const Value& value) {
  fail("expected ", wanted, ", found ", value.kind_name());
}
}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) wrong_kind("bool", *this);
  return std::get<bool>(data_);
}

int64_t Value::as_int() const {
  if (is_int()) return std::get<int64_t>(data_);
  if (is_float()) {
    const double d = std::get<double>(data_);
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
    fail("expected an integer, found ", d);
  }
  wrong_kind("int", *this);
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(data_);
  if (is_int()) return static_cast<double>(std::get<int64_t>(data_));
  wrong_kind("number", *this);
}

const std::string& Value::as_string() const {
  if (!is_string()) wrong_kind("string", *this);
  return std::get<std::string>(data_);
}

const Value::List& Value::as_list() const {
  if (!is_list()) wrong_kind("list", *this);
  return *std::get<std::shared_ptr<List>>(data_);
}

Value::List& Value::as_list() {
  if (!is_list()) wrong_kind("list", *this);
  return *std::get<std::shared_ptr<List>>(data_);
}

const Value::Dict& Value::as_dict() const {
  if (!is_dict()) wrong_kind("dict", *this);
  return *std::get<std::shared_ptr<Dict>>(data_);
}

Value::Dict& Value::as_dict() {
  if (!is_dict()) wrong_kind("dict", *this);
  return *std::get<std::shared_ptr<Dict>>(data_);
}

const NdArray& Value::as_array() const {
  if (!is_array()) wrong_kind("array", *this);
  return *std::get<std::shared_ptr<NdArray>>(data_);
}

const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : as_dict()) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Value::find(const std::string& key) {
  for (auto& [k, v] : as_dict()) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Value::set(const std::string& key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    as_dict().emplace_back(key, std::move(value));
  }
}

std::vector<int64_t> Value::to_int_vector() const {
  if (is_array()) {
    if (as_array().shape.size() != 1)
      fail("expected a 1-D array, found shape ", as_array().shape_string());
    return as_array().to_int64();
  }
  std::vector<int64_t> out;
  for (const Value& item : as_list()) out.push_back(item.as_int());
  return out;
}

std::vector<double> Value::to_double_vector() const {
  if (is_array()) {
    if (as_array().shape.size() != 1)
      fail("expected a 1-D array, found shape ", as_array().shape_string());
    return as_array().to_double();
  }
  std::vector<double> out;
  for (const Value& item : as_list()) out.push_back(item.as_double());
  return out;
}

Value Value::clone() const {
  switch (kind()) {
    case Kind::kList: {
      List copy;
      for (const Value& item : as_list()) copy.push_back(item.clone());
      return Value(std::move(copy));
    }
    case Kind::kDict: {
      Dict copy;
      for (const auto& [k, v] : as_dict()) copy.emplace_back(k, v.clone());
      return Value(std::move(copy));
    }
    case Kind::kArray:
      return Value(NdArray(as_array()));
    default:
      return *this;
  }
}

bool Value::operator==(const Value& other) const {
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case Kind::kNull:
      return true;
    case Kind::kBool:
      return as_bool() == other.as_bool();
    case Kind::kInt:
      return as_int() == other.as_int();
    case Kind::kFloat:
      return as_double() == other.as_double();
    case Kind::kString:
      return as_string() == other.as_string();
    case Kind::kList:
      return as_list() == other.as_list();
    case Kind::kDict:
      return as_dict() == other.as_dict();
    case Kind::kArray: {
      const NdArray& a = as_array();
      const NdArray& b = other.as_array();
      return a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes;
    }
  }
  return false;
}

}  // namespace mda
