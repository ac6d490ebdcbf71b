#include "mda/io/pickle.h"

#include <cstring>
#include <memory>
#include <unordered_map>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

// A Python object as far as the reader needs to model one. Shared pointers give the aliasing
// that the memo needs (an object stored with PUT and modified later by APPEND or BUILD).
struct Object;
using ObjectPtr = std::shared_ptr<Object>;

struct Object {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kStr,
    kBytes,
    kList,
    kTuple,
    kDict,
    kGlobal,
    kDType,
    kArray,
    kStorage,
    kMark
  };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string text;              // str (UTF-8), bytes, global "module.name", dtype code
  std::vector<ObjectPtr> items;  // list, tuple
  std::vector<std::pair<ObjectPtr, ObjectPtr>> pairs;  // dict
  NdArray array;                                       // ndarray (filled by BUILD or _frombuffer)
  char byte_order = '<';                               // dtype

  Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  // Children are released with a work list, not by recursion: a crafted pickle nested a million
  // levels deep must not overflow the stack when it is thrown away.
  ~Object() {
    std::vector<ObjectPtr> pending;
    const auto take = [&pending](Object& o) {
      for (ObjectPtr& child : o.items) pending.push_back(std::move(child));
      for (auto& [key, value] : o.pairs) {
        pending.push_back(std::move(key));
        pending.push_back(std::move(value));
      }
      o.items.clear();
      o.pairs.clear();
    };
    take(*this);
    while (!pending.empty()) {
      ObjectPtr o = std::move(pending.back());
      pending.pop_back();
      if (o && o.use_count() == 1) take(*o);
    }
  }
};

ObjectPtr new_object(Object::Kind kind) {
  auto o = std::make_shared<Object>();
  o->kind = kind;
  return o;
}

bool is_module(const std::string& global, const char* name) {
  // numpy 1.x pickles name numpy.core.*, numpy 2.x numpy._core.*; both are accepted.
  return global == cat("numpy.core.", name) || global == cat("numpy._core.", name);
}

class Unpickler {
 public:
  Unpickler(const std::vector<uint8_t>& bytes, const std::string& source,
            const StorageLoader& loader)
      : data_(bytes), source_(source), loader_(loader) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // A crafted pickle can make objects hold each other through the memo (a list appended to
  // itself); shared ownership alone would then never free them (found by fuzz/). Every object made
  // here is let go of its children first, which breaks every cycle.
  ~Unpickler() {
    for (const ObjectPtr& o : created_) {
      o->items.clear();
      o->pairs.clear();
    }
  }

  Value run() {
    while (true) {
      const uint8_t op = read_u8();
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1) bad("stack holds ", stack_.size(), " objects at STOP");
    return to_value(*stack_.back(), 0);
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(source_, ": unsupported or corrupt pickle at byte ", pos_, ": ",
         cat(std::forward<Parts>(parts)...));
  }

  ObjectPtr make(Object::Kind kind) {
    ObjectPtr o = new_object(kind);
    created_.push_back(o);
    return o;
  }

  uint8_t read_u8() {
    if (pos_ >= data_.size()) bad("truncated (no STOP opcode)");
    return data_[pos_++];
  }
  uint64_t read_le(int n) {
    if (pos_ + static_cast<size_t>(n) > data_.size()) bad("truncated");
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | data_[pos_ + static_cast<size_t>(k)];
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::string read_bytes(uint64_t n) {
    if (n > data_.size() - pos_) bad("truncated string of ", n, " bytes");
    std::string s(reinterpret_cast<const char*>(data_.data()) + pos_, n);
    pos_ += n;
    return s;
  }
  std::string read_line() {
    std::string s;
    while (true) {
      const char c = static_cast<char>(read_u8());
      if (c == '\n') return s;
      s += c;
    }
  }

  ObjectPtr pop() {
    if (stack_.empty()) bad("stack underflow");
    ObjectPtr o = stack_.back();
    stack_.pop_back();
    if (o->kind == Object::Kind::kMark) bad("unexpected MARK");
    return o;
  }
  ObjectPtr& top() {
    if (stack_.empty() || stack_.back()->kind == Object::Kind::kMark) bad("stack underflow");
    return stack_.back();
  }
  // Pops everything above the last MARK, in order.
  std::vector<ObjectPtr> pop_to_mark() {
    std::vector<ObjectPtr> items;
    while (true) {
      if (stack_.empty()) bad("MARK not found");
      ObjectPtr o = stack_.back();
      stack_.pop_back();
      if (o->kind == Object::Kind::kMark) break;
      items.push_back(o);
    }
    return std::vector<ObjectPtr>(items.rbegin(), items.rend());
  }
  void push(ObjectPtr o) { stack_.push_back(std::move(o)); }
  ObjectPtr scalar_int(int64_t v) {
    auto o = make(Object::Kind::kInt);
    o->i = v;
    return o;
  }
  ObjectPtr str_object(Object::Kind kind, std::string text) {
    auto o = make(kind);
    o->text = std::move(text);
    return o;
  }
  void memo_put(uint64_t key) {
    if (stack_.empty()) bad("PUT on an empty stack");
    memo_[key] = stack_.back();
  }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) bad("memo key ", key, " not found");
    push(it->second);
  }
  void append_items(const ObjectPtr& list, const std::vector<ObjectPtr>& items) {
    if (list->kind != Object::Kind::kList) bad("APPEND to a non-list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  void set_items(const ObjectPtr& dict, const std::vector<ObjectPtr>& items) {
    if (dict->kind != Object::Kind::kDict) bad("SETITEM on a non-dict");
    if (items.size() % 2) bad("odd number of items for SETITEMS");
    for (size_t k = 0; k < items.size(); k += 2) dict->pairs.emplace_back(items[k], items[k + 1]);
  }
  ObjectPtr tuple_of(std::vector<ObjectPtr> items) {
    auto t = make(Object::Kind::kTuple);
    t->items = std::move(items);
    return t;
  }

  void step(uint8_t op) {
    using K = Object::Kind;
    switch (op) {
      case 0x80: {  // PROTO
        const int protocol = read_u8();
        if (protocol > 5) bad("pickle protocol ", protocol, " is newer than 5");
        break;
      }
      case 0x95:
        read_le(8);
        break;  // FRAME: a length hint only
      case '(':
        push(make(K::kMark));
        break;
      case '0':
        pop();
        break;
      case '1':
        pop_to_mark();
        break;
      case '2':
        push(top());
        break;
      case '}':
        push(make(K::kDict));
        break;
      case ']':
        push(make(K::kList));
        break;
      case ')':
        push(tuple_of({}));
        break;
      case 't':
        push(tuple_of(pop_to_mark()));
        break;
      case 0x85: {
        auto a = pop();
        push(tuple_of({a}));
        break;
      }
      case 0x86: {
        auto b = pop(), a = pop();
        push(tuple_of({a, b}));
        break;
      }
      case 0x87: {
        auto c = pop(), b = pop(), a = pop();
        push(tuple_of({a, b, c}));
        break;
      }
      case 'l': {
        auto l = make(K::kList);
        l->items = pop_to_mark();
        push(l);
        break;
      }
      case 'd': {
        auto d = make(K::kDict);
        set_items(d, pop_to_mark());
        push(d);
        break;
      }
      case 0x8f:
        push(make(K::kList));
        break;  // EMPTY_SET, read as a list
      case 0x90: {
        auto items = pop_to_mark();
        append_items(top(), items);
        break;
      }  // ADDITEMS
      case 0x91: {
        auto l = make(K::kList);
        l->items = pop_to_mark();
        push(l);
        break;
      }  // FROZENSET
      case 'a': {
        auto v = pop();
        append_items(top(), {v});
        break;
      }
      case 'e': {
        auto items = pop_to_mark();
        append_items(top(), items);
        break;
      }
      case 's': {
        auto v = pop(), k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {
        auto items = pop_to_mark();
        set_items(top(), items);
        break;
      }
      case 'J':
        push(scalar_int(static_cast<int32_t>(read_le(4))));
        break;
      case 'K':
        push(scalar_int(read_u8()));
        break;
      case 'M':
        push(scalar_int(static_cast<int64_t>(read_le(2))));
        break;
      case 0x8a:
        push(long_value(read_u8()));
        break;
      case 0x8b:
        push(long_value(read_le(4)));
        break;
      case 'I': {  // protocol 0 int, also True/False as I01/I00
        const std::string line = read_line();
        if (line == "01" || line == "00") {
          auto o = make(K::kBool);
          o->b = line == "01";
          push(o);
        } else {
          long long v = 0;
          if (!parse_int(line, v)) bad("bad INT '", line, "'");
          push(scalar_int(v));
        }
        break;
      }
      case 'G': {
        const uint64_t bits = read_be8();
        auto o = make(K::kFloat);
        std::memcpy(&o->f, &bits, 8);
        push(o);
        break;
      }
      case 'F': {
        double d = 0;
        const std::string line = read_line();
        if (!parse_double(line, d)) bad("bad FLOAT '", line, "'");
        auto o = make(K::kFloat);
        o->f = d;
        push(o);
        break;
      }
      case 'N':
        push(make(K::kNone));
        break;
      case 0x88: {
        auto o = make(K::kBool);
        o->b = true;
        push(o);
        break;
      }
      case 0x89: {
        auto o = make(K::kBool);
        o->b = false;
        push(o);
        break;
      }
      case 'X':
        push(str_object(K::kStr, read_bytes(read_le(4))));
        break;
      case 0x8c:
        push(str_object(K::kStr, read_bytes(read_u8())));
        break;
      case 0x8d:
        push(str_object(K::kStr, read_bytes(read_le(8))));
        break;
      case 'T':
        push(str_object(K::kBytes, read_bytes(read_le(4))));
        break;  // Python 2 str
      case 'U':
        push(str_object(K::kBytes, read_bytes(read_u8())));
        break;
      case 'B':
        push(str_object(K::kBytes, read_bytes(read_le(4))));
        break;
      case 'C':
        push(str_object(K::kBytes, read_bytes(read_u8())));
        break;
      case 0x8e:
        push(str_object(K::kBytes, read_bytes(read_le(8))));
        break;
      case 0x96:
        push(str_object(K::kBytes, read_bytes(read_le(8))));
        break;  // BYTEARRAY8
      case 'q':
        memo_put(read_u8());
        break;
      case 'r':
        memo_put(read_le(4));
        break;
      case 0x94:
        memo_put(memo_.size());
        break;  // MEMOIZE
      case 'p': {
        long long k = 0;
        const auto l = read_line();
        if (!parse_int(l, k)) bad("bad PUT");
        memo_put(static_cast<uint64_t>(k));
        break;
      }
      case 'h':
        memo_get(read_u8());
        break;
      case 'j':
        memo_get(read_le(4));
        break;
      case 'g': {
        long long k = 0;
        const auto l = read_line();
        if (!parse_int(l, k)) bad("bad GET");
        memo_get(static_cast<uint64_t>(k));
        break;
      }
      case 'c': {
        const std::string module = read_line();
        const std::string name = read_line();
        push(str_object(K::kGlobal, module + "." + name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop(), module = pop();
        if (name->kind != K::kStr || module->kind != K::kStr) bad("STACK_GLOBAL needs two strings");
        push(str_object(K::kGlobal, module->text + "." + name->text));
        break;
      }
      case 'R': {
        auto args = pop(), callable = pop();
        push(reduce(callable, args));
        break;
      }
      case 'b': {
        auto state = pop();
        build(top(), state);
        break;
      }
      case 'Q':  // BINPERSID
        push(persistent_load(pop()));
        break;
      case 0x97:
      case 0x98:
        bad("out-of-band buffers are not supported");
      default:
        bad("opcode 0x", hex(op), " is not supported");
    }
  }

  static std::string hex(uint8_t op) {
    const char* digits = "0123456789abcdef";
    return std::string{digits[op >> 4], digits[op & 15]};
  }

  uint64_t read_be8() {
    if (pos_ + 8 > data_.size()) bad("truncated");
    uint64_t v = 0;
    for (int k = 0; k < 8; ++k) v = (v << 8) | data_[pos_ + static_cast<size_t>(k)];
    pos_ += 8;
    return v;
  }

  ObjectPtr long_value(uint64_t n) {
    if (n > 8) bad("integer of ", n, " bytes does not fit 64 bits");
    const std::string raw = read_bytes(n);
    uint64_t v = 0;
    for (size_t k = n; k-- > 0;) v = (v << 8) | static_cast<uint8_t>(raw[k]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(raw[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
    return scalar_int(static_cast<int64_t>(v));
  }

  // torch.save stores each tensor's storage outside the pickle, named by a persistent id
  // ('storage', storage class, key, location, numel).
  ObjectPtr persistent_load(const ObjectPtr& pid) {
    using K = Object::Kind;
    if (!loader_) bad("persistent ids (torch storages) are only read from torch.save files");
    const auto& p = pid->items;
    if (pid->kind != K::kTuple || p.size() < 5 || p[0]->kind != K::kStr ||
        p[0]->text != "storage" || p[1]->kind != K::kGlobal || p[2]->kind != K::kStr ||
        p[4]->kind != K::kInt) {
      bad("unsupported persistent id");
    }
    auto o = make(K::kStorage);
    o->array = loader_(p[1]->text, p[2]->text, p[4]->i);
    return o;
  }

  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a strided view of a
  // storage.
  ObjectPtr rebuild_tensor(const std::vector<ObjectPtr>& a) {
    using K = Object::Kind;
    if (a.size() < 4 || a[0]->kind != K::kStorage || a[1]->kind != K::kInt)
      bad("bad torch tensor arguments");
    const NdArray& storage = a[0]->array;
    const std::vector<int64_t> size = shape_of(*a[2]);
    const std::vector<int64_t> stride = shape_of(*a[3]);
    if (size.size() != stride.size()) bad("torch tensor size and stride differ in length");
    auto o = make(K::kArray);
    o->array.dtype = storage.dtype;
    o->array.shape = size;
    const size_t element = dtype_size(storage.dtype);
    const int64_t n = o->array.size();
    o->array.bytes.resize(static_cast<size_t>(n) * element);
    std::vector<int64_t> index(size.size(), 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t at = a[1]->i;
      for (size_t d = 0; d < size.size(); ++d) at += index[d] * stride[d];
      if (at < 0 || at >= storage.size()) bad("torch tensor reaches outside its storage");
      std::memcpy(o->array.bytes.data() + static_cast<size_t>(i) * element,
                  storage.bytes.data() + static_cast<size_t>(at) * element, element);
      for (size_t d = size.size(); d-- > 0;) {  // next index, last dimension fastest
        if (++index[d] < size[d]) break;
        index[d] = 0;
      }
    }
    return o;
  }

  // Converts the UTF-8 text of a str whose code points are all below 256 into bytes, as
  // _codecs.encode(text, 'latin1') does (protocol 2 stores bytes that way).
  std::string latin1_bytes(const std::string& utf8) {
    std::string out;
    for (size_t k = 0; k < utf8.size(); ++k) {
      const uint8_t c = static_cast<uint8_t>(utf8[k]);
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else if ((c & 0xe0) == 0xc0 && k + 1 < utf8.size()) {
        const uint32_t cp = ((c & 0x1fu) << 6) | (static_cast<uint8_t>(utf8[++k]) & 0x3fu);
        if (cp > 0xff) bad("latin1 encoding of a code point above 255");
        out += static_cast<char>(cp);
      } else {
        bad("latin1 encoding of a code point above 255");
      }
    }
    return out;
  }

  DType dtype_for(const Object& dtype) {
    if (dtype.kind != Object::Kind::kDType) bad("expected a numpy dtype");
    DType result;
    if (!dtype_from_code(dtype.text, result))
      bad("numpy dtype '", dtype.text, "' is not supported");
    if (dtype.byte_order == '>' && dtype_size(result) > 1)
      bad("big-endian numpy arrays are not supported");
    return result;
  }

  std::vector<int64_t> shape_of(const Object& tuple) {
    if (tuple.kind != Object::Kind::kTuple && tuple.kind != Object::Kind::kList)
      bad("bad array shape");
    std::vector<int64_t> shape;
    for (const auto& d : tuple.items) {
      if (d->kind != Object::Kind::kInt || d->i < 0) bad("bad array dimension");
      shape.push_back(d->i);
    }
    return shape;
  }

  void fill_array(Object& target, DType dtype, std::vector<int64_t> shape, const Object& raw,
                  bool fortran) {
    if (fortran) bad("Fortran-ordered numpy arrays are not supported");
    if (raw.kind != Object::Kind::kBytes) bad("numpy array data is not a byte string");
    target.kind = Object::Kind::kArray;
    target.array.dtype = dtype;
    target.array.shape = std::move(shape);
    const size_t expected = static_cast<size_t>(target.array.size()) * dtype_size(dtype);
    if (raw.text.size() != expected) {
      bad("numpy array ", target.array.shape_string(), " needs ", expected, " bytes, found ",
          raw.text.size());
    }
    target.array.bytes.assign(raw.text.begin(), raw.text.end());
  }

  ObjectPtr reduce(const ObjectPtr& callable, const ObjectPtr& args) {
    using K = Object::Kind;
    if (callable->kind != K::kGlobal) bad("REDUCE on a non-callable");
    if (args->kind != K::kTuple) bad("REDUCE arguments are not a tuple");
    const std::string& name = callable->text;
    const auto& a = args->items;
    if (is_module(name, "multiarray._reconstruct")) {
      auto o = make(K::kArray);  // filled by BUILD
      return o;
    }
    if (name == "numpy.dtype") {
      if (a.empty() || a[0]->kind != K::kStr) bad("bad numpy.dtype arguments");
      auto o = make(K::kDType);
      o->text = a[0]->text;
      o->byte_order = '=';
      return o;
    }
    if (name == "_codecs.encode") {
      if (a.size() != 2 || a[0]->kind != K::kStr) bad("bad _codecs.encode arguments");
      return str_object(K::kBytes, latin1_bytes(a[0]->text));
    }
    if (is_module(name, "numeric._frombuffer")) {  // protocol 5 in-band arrays
      if (a.size() != 4) bad("bad _frombuffer arguments");
      auto o = make(K::kArray);
      const bool fortran = a[3]->kind == K::kStr && a[3]->text == "F";
      fill_array(*o, dtype_for(*a[1]), shape_of(*a[2]), *a[0], fortran);
      return o;
    }
    if (is_module(name, "multiarray.scalar")) {
      if (a.size() != 2) bad("bad numpy scalar arguments");
      NdArray one;
      Object holder;
      fill_array(holder, dtype_for(*a[0]), {}, *a[1], false);
      const NdArray& array = holder.array;
      if (array.dtype == DType::kFloat32 || array.dtype == DType::kFloat64 ||
          array.dtype == DType::kFloat16) {
        auto o = make(K::kFloat);
        o->f = array.to_double()[0];
        return o;
      }
      return scalar_int(array.to_int64()[0]);
    }
    if ((name == "__builtin__.bytes" || name == "builtins.bytes") && a.empty()) {
      return str_object(K::kBytes, "");  // protocol 2 writes b'' this way
    }
    if (name == "collections.OrderedDict" && a.empty()) return make(K::kDict);
    if (name == "torch._utils._rebuild_tensor_v2" && loader_) return rebuild_tensor(a);
    if (name == "torch._utils._rebuild_parameter" && !a.empty() && a[0]->kind == K::kArray)
      return a[0];
    bad("object '", name, "' is not supported (only plain data and numpy arrays)");
  }

  void build(const ObjectPtr& target, const ObjectPtr& state) {
    using K = Object::Kind;
    if (target->kind == K::kDType) {
      // state: (version, byte order, subarray, names, fields, elsize, alignment, flags)
      if (state->kind != K::kTuple || state->items.size() < 2 || state->items[1]->kind != K::kStr) {
        bad("bad numpy dtype state");
      }
      if (state->items.size() > 3 && state->items[3]->kind != K::kNone)
        bad("structured numpy dtypes are not supported");
      const std::string& order = state->items[1]->text;
      target->byte_order = order.empty() ? '|' : order[0];
      return;
    }
    if (target->kind == K::kArray) {
      // state: (version, shape, dtype, is_fortran, raw data)
      if (state->kind != K::kTuple || state->items.size() != 5) bad("bad numpy array state");
      const auto& s = state->items;
      if (s[3]->kind != K::kBool) bad("bad numpy array state");
      fill_array(*target, dtype_for(*s[2]), shape_of(*s[1]), *s[4], s[3]->b);
      return;
    }
    if (target->kind == K::kDict && (state->kind == K::kDict || state->kind == K::kTuple)) {
      return;  // instance attributes of a dict subclass (OrderedDict._metadata): not dict items
    }
    bad("BUILD on an unsupported object");
  }

  Value to_value(const Object& o, int depth) {
    using K = Object::Kind;
    if (depth > 256) bad("nesting too deep (or a cycle)");
    switch (o.kind) {
      case K::kNone:
        return Value();
      case K::kBool:
        return Value(o.b);
      case K::kInt:
        return Value(o.i);
      case K::kFloat:
        return Value(o.f);
      case K::kStr:
        return Value(o.text);
      case K::kList:
      case K::kTuple: {
        Value::List list;
        for (const auto& item : o.items) list.push_back(to_value(*item, depth + 1));
        return Value(std::move(list));
      }
      case K::kDict: {
        Value dict = Value::empty_dict();
        for (const auto& [k, v] : o.pairs) {
          if (k->kind != K::kStr) bad("dict key of a type other than str");
          dict.set(k->text, to_value(*v, depth + 1));
        }
        return dict;
      }
      case K::kArray:
        if (o.array.shape.empty() && o.array.bytes.empty()) bad("numpy array without data");
        return Value(o.array);
      case K::kBytes:
        bad("byte strings are not supported as values");
      case K::kGlobal:
        bad("object '", o.text, "' is not supported");
      case K::kDType:
        bad("a bare numpy dtype is not supported as a value");
      case K::kStorage:
        bad("a bare torch storage is not supported as a value");
      case K::kMark:
        bad("unexpected MARK");
    }
    return Value();
  }

  const std::vector<uint8_t>& data_;
  const std::string& source_;
  const StorageLoader& loader_;
  size_t pos_ = 0;
  std::vector<ObjectPtr> stack_;
  std::unordered_map<uint64_t, ObjectPtr> memo_;
  std::vector<ObjectPtr> created_;
};

}  // namespace

Value parse_pickle(const std::vector<uint8_t>& bytes, const std::string& source,
                   const StorageLoader& storage_loader) {
  if (bytes.size() < 2 || bytes[0] != 0x80) {
    fail(source, ": not a pickle of protocol 2 or later (first byte is not PROTO)");
  }
  return Unpickler(bytes, source, storage_loader).run();
}

Value read_pickle(const std::string& path) { return parse_pickle(read_file_bytes(path), path); }

}  // namespace mda
