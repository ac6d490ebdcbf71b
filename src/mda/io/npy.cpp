#include "mda/io/npy.h"

#include <cctype>
#include <cstdint>
#include <cstring>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/mapped_file.h"

namespace mda {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// Parses the header, a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        descr = quoted();
        seen_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = boolean();
        seen_order = true;
      } else if (key == "shape") {
        shape = tuple();
        seen_shape = true;
      } else {
        bad("unknown header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    if (!seen_descr || !seen_order || !seen_shape)
      bad("header lacks descr, fortran_order or shape");
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail(source_, ": malformed .npy header (", why, "): ", text_);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string s = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return dims;
      }
      size_t start = pos_;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
      if (start == pos_) bad("expected a dimension");
      if (pos_ - start > 18) bad("a dimension of more than 18 digits");
      dims.push_back(std::stoll(text_.substr(start, pos_ - start)));
      skip_space();
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      skip_space();
      if (peek() == ',') ++pos_;
    }
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
};

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

NpyHeader parse_npy_header(const uint8_t* bytes, size_t size, const std::string& source) {
  if (size < kMagicSize + 4 || std::memcmp(bytes, kMagic, kMagicSize) != 0) {
    fail(source, ": not a .npy file (bad magic string)");
  }
  const int major = bytes[6];
  const int minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0) {
    fail(source, ": unsupported .npy version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  }
  const int length_bytes = major == 1 ? 2 : 4;
  if (size < 8 + static_cast<size_t>(length_bytes)) fail(source, ": truncated .npy header");
  const size_t header_length = read_le(bytes + 8, length_bytes);
  const size_t data_start = 8 + length_bytes + header_length;
  if (size < data_start) fail(source, ": truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(bytes) + 8 + length_bytes, header_length);

  std::string descr;
  bool fortran_order = false;
  NpyHeader array;
  HeaderParser(header, source).parse(descr, fortran_order, array.shape);
  if (fortran_order) fail(source, ": Fortran-ordered .npy arrays are not supported");
  if (descr.size() < 2) fail(source, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  if (!dtype_from_code(code, array.dtype)) fail(source, ": unsupported dtype '", descr, "'");
  const bool single_byte = dtype_size(array.dtype) == 1;
  if (!(order == '<' || order == '|' || (order == '=' && single_byte) ||
        (order == '>' && single_byte))) {
    fail(source, ": unsupported byte order in dtype '", descr, "' (only little endian)");
  }
  const size_t available = size - data_start;
  // The byte count is multiplied out with an overflow check: a crafted shape whose product
  // overflows must not pass as a small array.
  uint64_t expected = 0;
  if (!checked_byte_count(array.shape, array.dtype, expected)) {
    fail(source, ": truncated .npy data: shape ", array.shape_string(), " of ",
         dtype_name(array.dtype), " needs more than 2^64 bytes, the file has ", available);
  }
  if (available < expected) {
    fail(source, ": truncated .npy data: shape ", array.shape_string(), " of ",
         dtype_name(array.dtype), " needs ", expected, " bytes, the file has ", available);
  }
  if (available > expected) {
    fail(source, ": .npy file has ", available - expected, " unexpected trailing bytes");
  }
  array.data_start = data_start;
  return array;
}

NdArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source) {
  const NpyHeader header = parse_npy_header(bytes.data(), bytes.size(), source);
  NdArray array;
  array.dtype = header.dtype;
  array.shape = header.shape;
  array.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header.data_start), bytes.end());
  return array;
}

std::string NpyHeader::shape_string() const { return mda::shape_string(shape); }

MappedNpy map_npy(const std::string& path) {
  MappedNpy out;
  out.file = MappedFile::open(path);
  out.header = parse_npy_header(out.file->data(), out.file->size(), path);
  return out;
}

// A plain read, not a mapping: the array is copied anyway, and a file truncated by another program
// while it is read then gives an error instead of SIGBUS.
NdArray read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::vector<uint8_t> encode_npy(const NdArray& array) {
  const size_t element = dtype_size(array.dtype);
  if (array.bytes.size() != static_cast<size_t>(array.size()) * element) {
    fail("cannot write .npy: ", array.bytes.size(), " bytes do not match shape ",
         array.shape_string(), " of ", dtype_name(array.dtype));
  }
  std::string header = "{'descr': '";
  header += element == 1 ? '|' : '<';
  header += dtype_code(array.dtype) +
            "', 'fortran_order': False, 'shape': " + array.shape_string() + ", }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes; end with a newline.
  int major = 1;
  size_t prefix = 10;
  size_t total = prefix + header.size() + 1;
  if (total + (64 - total % 64) % 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
    total = prefix + header.size() + 1;
  }
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
  out.push_back(static_cast<uint8_t>(major));
  out.push_back(0);
  const uint32_t length = static_cast<uint32_t>(header.size());
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    out.push_back(static_cast<uint8_t>(length >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  return out;
}

void write_npy(const std::string& path, const NdArray& array) {
  const std::vector<uint8_t> bytes = encode_npy(array);
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  });
}

}  // namespace mda
