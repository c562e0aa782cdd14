// Quoting and parsing of the key=value fields in chatd's log lines.
#include "daemon/log_fields.hpp"

#include <fmt/format.h>

#include "protocol/rules.hpp"

namespace chat::daemon {
namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Reads a quoted value starting after the opening quote; stops after the closing
// quote or at the end of the line (an unterminated quote keeps the rest).
std::string read_quoted(std::string_view line, std::size_t& i) {
  std::string out;
  while (i < line.size()) {
    const char c = line[i++];
    if (c == '"') {
      return out;
    }
    if (c != '\\' || i >= line.size()) {
      out.push_back(c);
      continue;
    }
    const char e = line[i++];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'x': {
        const int hi = i < line.size() ? hex_digit(line[i]) : -1;
        const int lo = i + 1 < line.size() ? hex_digit(line[i + 1]) : -1;
        if (hi >= 0 && lo >= 0) {
          out.push_back(static_cast<char>(hi * 16 + lo));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      }
      default:
        out.push_back(e);  // \" and \\ (and anything unknown) stand for themselves
    }
  }
  return out;
}

}  // namespace

std::string log_value(std::string_view raw) {
  // A peer's text can be 65 KB: logging it whole let five connections write
  // 147 MB of log in 11 s. Every field is cut to a bound (and says so).
  const std::string bounded = proto::truncate_utf8(raw, kMaxLogValue, "[truncated]");
  const std::string_view value = bounded;
  bool bare = !value.empty();
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '"' || c == '\\' || c == '=') {
      bare = false;
      break;
    }
  }
  if (bare) {
    return std::string(value);
  }
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
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
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\x{:02x}", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::vector<LogField> parse_log_fields(std::string_view line) {
  std::vector<LogField> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) {
      ++i;
    }
    const std::size_t key_start = i;
    while (i < line.size() && is_key_char(line[i])) {
      ++i;
    }
    const bool is_field = i > key_start && i < line.size() && line[i] == '=';
    if (!is_field) {
      // Not a field: skip the rest of this token, honouring quotes so that a
      // quoted value's spaces do not start a bogus token.
      while (i < line.size() && !is_space(line[i])) {
        if (line[i++] == '"') {
          read_quoted(line, i);
        }
      }
      continue;
    }
    LogField field;
    field.key = std::string(line.substr(key_start, i - key_start));
    ++i;  // '='
    if (i < line.size() && line[i] == '"') {
      ++i;
      field.value = read_quoted(line, i);
    } else {
      const std::size_t value_start = i;
      while (i < line.size() && !is_space(line[i])) {
        ++i;
      }
      field.value = std::string(line.substr(value_start, i - value_start));
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

std::string journal_field_name(std::string_view key) {
  std::string name = "CHATD_";
  for (const char c : key) {
    if (c >= 'a' && c <= 'z') {
      name.push_back(static_cast<char>(c - 'a' + 'A'));
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
      name.push_back(c);
    } else if (c == '-' || c == '.') {
      name.push_back('_');
    } else {
      return {};
    }
  }
  if (key.empty() || name.size() > 64) {
    return {};
  }
  return name;
}

}  // namespace chat::daemon
