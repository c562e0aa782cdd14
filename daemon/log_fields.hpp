// key=value log lines: quoting values when logging, parsing them back into fields.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chat::daemon {

// Longest value logged, in bytes before quoting; longer ones end "[truncated]".
inline constexpr std::size_t kMaxLogValue = 1024;

// `value` as it goes after `key=` in a log line: bare when it is non-empty and
// has no space, quote, backslash, '=' or control character; otherwise in double
// quotes with \" \\ \n \r \t and \xNN escapes, so a hostile nick or message
// cannot forge extra fields or lines.
std::string log_value(std::string_view value);

struct LogField {
  std::string key;
  std::string value;
};

// The key=value pairs of a log line, in order. A key is [A-Za-z0-9_.-]+; a
// value runs to the next space or is a quoted string as log_value() writes it.
// Tokens that are not key=value (a "[S42]" prefix, free text) are skipped.
std::vector<LogField> parse_log_fields(std::string_view line);

// "CHATD_" + the key upper-cased with '-' and '.' turned into '_'; empty if the
// result would not be a valid journal field name (at most 64 characters).
std::string journal_field_name(std::string_view key);

}  // namespace chat::daemon
