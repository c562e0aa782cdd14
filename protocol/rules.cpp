// Nick, room and message validation over strict UTF-8.
#include "protocol/rules.hpp"

namespace chat::proto {

std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  if (i >= s.size()) {
    return std::nullopt;
  }
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (s.size() - i < len) {
    return std::nullopt;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) {
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return std::nullopt;
  }
  i += len;
  return cp;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (!next_code_point(s, i)) {
      return false;
    }
  }
  return true;
}

std::size_t code_point_count(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) {
      ++n;
    }
  }
  return n;
}

bool is_unicode_space(char32_t c) {
  // The White_Space property of Unicode, minus the controls caught elsewhere.
  switch (c) {
    case 0x20:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

bool is_valid_nick(std::string_view nick) {
  if (nick.empty()) {
    return false;
  }
  std::size_t i = 0;
  std::size_t count = 0;
  while (i < nick.size()) {
    const auto cp = next_code_point(nick, i);
    if (!cp || is_control(*cp) || is_unicode_space(*cp)) {
      return false;
    }
    switch (*cp) {
      case ':':
      case '/':
      case '*':
      case '@':
      case ',':
      case '#':
      case '!':
        return false;
      default:
        break;
    }
    if (++count > kMaxNickCodePoints) {
      return false;
    }
  }
  return true;
}

bool is_valid_message(std::string_view message) {
  if (message.empty()) {
    return false;
  }
  std::size_t i = 0;
  while (i < message.size()) {
    const auto cp = next_code_point(message, i);
    if (!cp || is_control(*cp)) {
      return false;
    }
  }
  return true;
}

std::string nick_key(std::string_view nick) {
  std::string key(nick);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return key;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view marker) {
  if (text.size() <= max_bytes) {
    return std::string(text);
  }
  if (marker.size() > max_bytes) {
    marker = {};
  }
  std::size_t end = max_bytes - marker.size();
  // Back up over continuation bytes to the start of the sequence that was cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  std::string out(text.substr(0, end));
  out.append(marker);
  return out;
}

}  // namespace chat::proto
