#include "mda/io/json.h"

#include <cmath>
#include <cstdio>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

class JsonParser {
 public:
  JsonParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  Value parse_document() {
    Value v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    fail(source_, ":", line, ":", column, ": invalid JSON: ", why);
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume(const char* word) {
    const size_t n = std::char_traits<char>::length(word);
    if (text_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Value parse_value(int depth) {
    if (depth > 512) bad("nesting too deep");
    skip_space();
    if (pos_ >= text_.size()) bad("unexpected end of input");
    const char c = text_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Value(parse_string());
    if (consume("true")) return Value(true);
    if (consume("false")) return Value(false);
    if (consume("null")) return Value();
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    bad(std::string("unexpected character '") + c + "'");
  }

  Value parse_object(int depth) {
    ++pos_;
    Value::Dict dict;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return Value(std::move(dict));
    }
    while (true) {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') bad("expected a string key");
      std::string key = parse_string();
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':') bad("expected ':'");
      ++pos_;
      dict.emplace_back(std::move(key), parse_value(depth + 1));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return Value(std::move(dict));
      }
      bad("expected ',' or '}'");
    }
  }

  Value parse_array(int depth) {
    ++pos_;
    Value::List list;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Value(std::move(list));
    }
    while (true) {
      list.push_back(parse_value(depth + 1));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Value(std::move(list));
      }
      bad("expected ',' or ']'");
    }
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > text_.size()) bad("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= h - '0';
      else if (h >= 'a' && h <= 'f')
        v |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        v |= h - 'A' + 10;
      else
        bad("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) bad("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) bad("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) bad("unterminated escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && text_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xdc00 || low > 0xdfff) bad("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          bad(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  Value parse_number() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    bool is_float = false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        is_float = true;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string token = text_.substr(start, pos_ - start);
    long long i = 0;
    if (!is_float && parse_int(token, i)) return Value(static_cast<int64_t>(i));
    double d = 0;
    if (!parse_double(token, d)) bad("bad number '" + token + "'");
    return Value(d);
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
};

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string format_double(double d) {
  if (!std::isfinite(d)) return "null";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", d);
  double back = 0;
  // Prefer the shortest representation that reads back exactly.
  for (int precision = 6; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, d);
    if (parse_double(shorter, back) && back == d) {
      std::snprintf(buffer, sizeof buffer, "%s", shorter);
      break;
    }
  }
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

void write_value(std::string& out, const Value& v, int indent, int depth) {
  const auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNull:
      out += "null";
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      break;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Value::Kind::kFloat:
      out += format_double(v.as_double());
      break;
    case Value::Kind::kString:
      write_string(out, v.as_string());
      break;
    case Value::Kind::kArray: {
      // Arrays are written flat, as a list of numbers.
      const std::vector<double> values = v.as_array().to_double();
      Value::List list;
      const bool integral = v.as_array().dtype != DType::kFloat32 &&
                            v.as_array().dtype != DType::kFloat64 &&
                            v.as_array().dtype != DType::kFloat16;
      for (double d : values) list.push_back(integral ? Value(static_cast<int64_t>(d)) : Value(d));
      write_value(out, Value(std::move(list)), indent, depth);
      break;
    }
    case Value::Kind::kList: {
      const auto& list = v.as_list();
      if (list.empty()) {
        out += "[]";
        break;
      }
      bool scalars = true;
      for (const Value& item : list) scalars = scalars && !item.is_list() && !item.is_dict();
      out += '[';
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += scalars || indent < 0 ? ", " : ",";
        if (!scalars) newline(depth + 1);
        write_value(out, list[i], indent, depth + 1);
      }
      if (!scalars) newline(depth);
      out += ']';
      break;
    }
    case Value::Kind::kDict: {
      const auto& dict = v.as_dict();
      if (dict.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (size_t i = 0; i < dict.size(); ++i) {
        if (i) out += indent < 0 ? ", " : ",";
        newline(depth + 1);
        write_string(out, dict[i].first);
        out += ": ";
        write_value(out, dict[i].second, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      break;
    }
  }
}

}  // namespace

Value parse_json(const std::string& text, const std::string& source) {
  return JsonParser(text, source).parse_document();
}

Value read_json(const std::string& path) { return parse_json(read_file_text(path), path); }

std::string to_json(const Value& value, int indent) {
  std::string out;
  write_value(out, value, indent, 0);
  return out;
}

void write_json(const std::string& path, const Value& value) {
  write_file_atomic(path, to_json(value) + "\n");
}

}  // namespace mda
