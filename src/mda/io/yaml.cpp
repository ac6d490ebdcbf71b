#include "mda/io/yaml.h"

#include <cmath>
#include <limits>

#include "mda/util/error.h"
#include "mda/util/fs.h"
#include "mda/util/strings.h"

namespace mda {
namespace {

struct Line {
  int number;        // 1-based, for messages
  int indent;        // leading spaces
  std::string text;  // without indentation, comment and trailing spaces
};

// Removes a comment: '#' at the start or after whitespace, outside quotes.
std::string strip_comment(const std::string& raw) {
  char quote = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && (i == 0 || raw[i - 1] == ' ' || raw[i - 1] == '\t')) {
      return raw.substr(0, i);
    }
  }
  return raw;
}

// Finds the ':' that separates a mapping key from its value, outside quotes and brackets.
size_t find_key_colon(const std::string& text) {
  char quote = 0;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      if (i == 0) quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ':' && depth == 0 && (i + 1 == text.size() || text[i + 1] == ' ')) {
      return i;
    }
  }
  return std::string::npos;
}

bool is_sequence_item(const std::string& text) { return text == "-" || starts_with(text, "- "); }

// Counts nesting on the way down and back up; past 256 levels `too_deep` throws, so that hostile
// input cannot overflow the stack of the recursive parsers.
class DepthGuard {
 public:
  template <typename OnTooDeep>
  DepthGuard(int& depth, OnTooDeep too_deep) : depth_(depth) {
    if (++depth_ > 256) {
      --depth_;
      too_deep();
    }
  }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

class FlowParser {
 public:
  FlowParser(const std::string& text, const std::string& where) : text_(text), where_(where) {}

  Value parse_all() {
    Value v = parse_value(false);
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text '" + text_.substr(pos_) + "'");
    return v;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail(where_, ": invalid YAML value: ", why);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  Value parse_value(bool in_flow) {
    skip_space();
    if (pos_ >= text_.size()) return Value();
    const char c = text_[pos_];
    if (c == '[') return parse_list();
    if (c == '{') return parse_map();
    if (c == '\'' || c == '"') return Value(parse_quoted());
    if (c == '&' || c == '*' || c == '!') bad("anchors, aliases and tags are not supported");
    if (c == '|' || c == '>') bad("multi-line block scalars are not supported");
    const size_t start = pos_;
    while (pos_ < text_.size()) {
      const char d = text_[pos_];
      if (in_flow && (d == ',' || d == ']' || d == '}')) break;
      if (in_flow && d == ':' && (pos_ + 1 == text_.size() || text_[pos_ + 1] == ' ')) break;
      ++pos_;
    }
    return resolve_plain(std::string(trim(text_.substr(start, pos_ - start))));
  }

  std::string parse_quoted() {
    const char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) bad("unterminated quoted string");
      const char c = text_[pos_++];
      if (c == quote) {
        if (quote == '\'' && pos_ < text_.size() && text_[pos_] == '\'') {  // '' is a quote
          out += '\'';
          ++pos_;
          continue;
        }
        return out;
      }
      if (quote == '"' && c == '\\') {
        if (pos_ >= text_.size()) bad("unterminated escape");
        const char e = text_[pos_++];
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case '\\':
            out += '\\';
            break;
          case '"':
            out += '"';
            break;
          default:
            out += '\\';
            out += e;
        }
        continue;
      }
      out += c;
    }
  }

  Value parse_list() {
    const DepthGuard guard(depth_, [this] { bad("nesting deeper than 256 levels"); });
    ++pos_;
    Value::List list;
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return Value(std::move(list));
    }
    while (true) {
      list.push_back(parse_value(true));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return Value(std::move(list));
      }
      bad("expected ',' or ']' in a flow list");
    }
  }

  Value parse_map() {
    const DepthGuard guard(depth_, [this] { bad("nesting deeper than 256 levels"); });
    ++pos_;
    Value dict = Value::empty_dict();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return dict;
    }
    while (true) {
      const Value key = parse_value(true);
      if (!key.is_string() && !key.is_int()) bad("flow map keys must be strings");
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != ':') bad("expected ':' in a flow map");
      ++pos_;
      const std::string name = key.is_string() ? key.as_string() : std::to_string(key.as_int());
      if (dict.find(name)) bad("duplicate key '" + name + "'");
      dict.set(name, parse_value(true));
      skip_space();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        return dict;
      }
      bad("expected ',' or '}' in a flow map");
    }
  }

  static Value resolve_plain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
    if (s == "true" || s == "True" || s == "TRUE") return Value(true);
    if (s == "false" || s == "False" || s == "FALSE") return Value(false);
    long long i = 0;
    if (parse_int(s, i)) return Value(static_cast<int64_t>(i));
    if (s == ".inf" || s == ".Inf" || s == "+.inf")
      return Value(std::numeric_limits<double>::infinity());
    if (s == "-.inf" || s == "-.Inf") return Value(-std::numeric_limits<double>::infinity());
    if (s == ".nan" || s == ".NaN") return Value(std::numeric_limits<double>::quiet_NaN());
    double d = 0;
    const bool numeric_start =
        std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+' || s[0] == '.';
    if (numeric_start && s.find_first_of("xXn") == std::string::npos && parse_double(s, d)) {
      return Value(d);
    }
    return Value(s);
  }

  const std::string& text_;
  const std::string& where_;
  size_t pos_ = 0;
  int depth_ = 0;
};

class BlockParser {
 public:
  BlockParser(std::vector<Line> lines, const std::string& source)
      : lines_(std::move(lines)), source_(source) {}

  Value parse_document() {
    if (lines_.empty()) return Value::empty_dict();
    Value v = parse_block(lines_[0].indent);
    if (index_ < lines_.size()) bad(lines_[index_], "unexpected indentation");
    return v;
  }

 private:
  [[noreturn]] void bad(const Line& line, const std::string& why) const {
    fail(source_, ":", line.number, ": invalid YAML: ", why, ": '", line.text, "'");
  }
  std::string where(const Line& line) const { return cat(source_, ":", line.number); }

  Value parse_block(int indent) {
    const DepthGuard guard(depth_, [&] { bad(lines_[index_], "nesting deeper than 256 levels"); });
    if (is_sequence_item(lines_[index_].text)) return parse_sequence(indent);
    return parse_mapping(indent);
  }

  // Value after "key:" or "- ": inline text, or a nested block on the following lines.
  Value parse_nested(const Line& owner, const std::string& inline_text, int owner_indent,
                     bool allow_same_indent_sequence) {
    if (!inline_text.empty()) return FlowParser(inline_text, where(owner)).parse_all();
    if (index_ < lines_.size()) {
      const Line& next = lines_[index_];
      if (next.indent > owner_indent) return parse_block(next.indent);
      if (allow_same_indent_sequence && next.indent == owner_indent &&
          is_sequence_item(next.text)) {
        return parse_sequence(owner_indent);
      }
    }
    return Value();
  }

  Value parse_mapping(int indent) {
    Value dict = Value::empty_dict();
    while (index_ < lines_.size() && lines_[index_].indent == indent) {
      const Line line = lines_[index_];
      if (is_sequence_item(line.text)) bad(line, "a list item where a key was expected");
      const size_t colon = find_key_colon(line.text);
      if (colon == std::string::npos) bad(line, "expected 'key: value'");
      Value key = FlowParser(line.text.substr(0, colon), where(line)).parse_all();
      if (key.is_null() || key.is_list() || key.is_dict()) bad(line, "bad key");
      const std::string name =
          key.is_string() ? key.as_string() : std::string(trim(line.text.substr(0, colon)));
      if (dict.find(name)) bad(line, "duplicate key '" + name + "'");
      ++index_;
      const std::string rest(trim(line.text.substr(colon + 1)));
      dict.set(name, parse_nested(line, rest, indent, true));
    }
    if (index_ < lines_.size() && lines_[index_].indent > indent) {
      bad(lines_[index_], "unexpected indentation");
    }
    return dict;
  }

  Value parse_sequence(int indent) {
    Value::List list;
    while (index_ < lines_.size() && lines_[index_].indent == indent &&
           is_sequence_item(lines_[index_].text)) {
      const Line line = lines_[index_];
      const std::string rest(trim(line.text.substr(1)));
      if (!rest.empty() && find_key_colon(rest) != std::string::npos && rest[0] != '[' &&
          rest[0] != '{') {
        // "- key: value" starts a mapping whose keys sit two columns further in.
        const int item_indent = indent + static_cast<int>(line.text.size() - rest.size());
        lines_[index_] = Line{line.number, item_indent, rest};
        list.push_back(parse_mapping(item_indent));
      } else {
        ++index_;
        list.push_back(parse_nested(line, rest, indent, false));
      }
    }
    return Value(std::move(list));
  }

  std::vector<Line> lines_;
  const std::string& source_;
  size_t index_ = 0;
  int depth_ = 0;
};

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  const Value resolved = parse_yaml_scalar(s, "");
  if (!resolved.is_string() || resolved.as_string() != s) return true;
  if (s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") != std::string::npos) return true;
  return s.front() == ' ' || s.back() == ' ' || s.front() == '-' || s.front() == '?';
}

std::string scalar_text(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kFloat: {
      const double d = v.as_double();
      if (std::isnan(d)) return ".nan";
      if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
      for (int precision = 6; precision <= 17; ++precision) {
        char buffer[40];
        std::snprintf(buffer, sizeof buffer, "%.*g", precision, d);
        double back = 0;
        if (parse_double(buffer, back) && back == d) {
          std::string text = buffer;
          if (text.find_first_of(".e") == std::string::npos) text += ".0";
          return text;
        }
      }
      return std::to_string(d);
    }
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      if (!needs_quotes(s)) return s;
      std::string out = "'";
      for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
      return out + "'";
    }
    default:
      fail("internal: not a YAML scalar");
  }
}

bool is_flat_list(const Value& v) {
  if (!v.is_list()) return false;
  for (const Value& item : v.as_list()) {
    if (item.is_list() || item.is_dict() || item.is_array()) return false;
  }
  return true;
}

std::string flow_text(const Value& v) {
  if (v.is_array()) {
    Value::List list;
    for (double d : v.as_array().to_double()) list.push_back(Value(d));
    return flow_text(Value(std::move(list)));
  }
  if (v.is_list()) {
    std::string out = "[";
    for (size_t i = 0; i < v.as_list().size(); ++i) {
      if (i) out += ", ";
      out += flow_text(v.as_list()[i]);
    }
    return out + "]";
  }
  if (v.is_dict() && v.as_dict().empty()) return "{}";
  return scalar_text(v);
}

void write_block(std::string& out, const Value& v, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_dict()) {
    for (const auto& [key, item] : v.as_dict()) {
      out += pad + scalar_text(Value(key)) + ":";
      if ((item.is_dict() && !item.as_dict().empty()) || (item.is_list() && !is_flat_list(item))) {
        out += "\n";
        write_block(out, item, indent + 2);
      } else {
        out += " " + flow_text(item) + "\n";
      }
    }
  } else if (v.is_list()) {
    for (const Value& item : v.as_list()) {
      if (item.is_dict() && !item.as_dict().empty()) {
        std::string nested;
        write_block(nested, item, indent + 2);
        out += pad + "- " + nested.substr(static_cast<size_t>(indent) + 2);
      } else {
        out += pad + "- " + flow_text(item) + "\n";
      }
    }
  } else {
    out += pad + flow_text(v) + "\n";
  }
}

}  // namespace

Value parse_yaml(const std::string& text, const std::string& source) {
  std::vector<Line> lines;
  const std::vector<std::string> raw_lines = split(text, '\n');
  for (size_t i = 0; i < raw_lines.size(); ++i) {
    std::string raw = strip_comment(raw_lines[i]);
    const std::string_view content = trim(raw);
    if (content.empty() || content == "---" || content == "...") continue;
    size_t indent = 0;
    while (indent < raw.size() && raw[indent] == ' ') ++indent;
    if (indent < raw.size() && raw[indent] == '\t') {
      fail(source, ":", i + 1, ": invalid YAML: tabs are not allowed for indentation");
    }
    lines.push_back(Line{static_cast<int>(i + 1), static_cast<int>(indent), std::string(content)});
  }
  return BlockParser(std::move(lines), source).parse_document();
}

Value read_yaml(const std::string& path) { return parse_yaml(read_file_text(path), path); }

Value parse_yaml_scalar(const std::string& text, const std::string& source) {
  return FlowParser(text, source).parse_all();
}

std::string to_yaml(const Value& value) {
  std::string out;
  write_block(out, value, 0);
  return out;
}

}  // namespace mda
