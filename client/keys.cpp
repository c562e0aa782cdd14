// Key decoding: CSI/SS3 sequences of xterm, VT220 and the Linux console; Emacs control keys.
#include "client/keys.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "protocol/rules.hpp"

namespace chat::client {
namespace {

using Kind = Key::Kind;

std::optional<Kind> control_key(unsigned char c) {
  switch (c) {
    case '\r':
    case '\n':
      return Kind::kEnter;
    case 0x7F:
    case 0x08:
      return Kind::kBackspace;
    case '\t':
      return Kind::kTab;
    case 0x01:
      return Kind::kHome;
    case 0x05:
      return Kind::kEnd;
    case 0x02:
      return Kind::kLeft;
    case 0x06:
      return Kind::kRight;
    case 0x10:
      return Kind::kUp;
    case 0x0E:
      return Kind::kDown;
    case 0x03:
      return Kind::kInterrupt;
    case 0x04:
      return Kind::kEof;
    case 0x15:
      return Kind::kKillToStart;
    case 0x0B:
      return Kind::kKillToEnd;
    case 0x17:
      return Kind::kKillWord;
    case 0x0C:
      return Kind::kRedraw;
    default:
      return std::nullopt;
  }
}

std::optional<Kind> final_key(char final, std::string_view params) {
  switch (final) {
    case 'A':
      return Kind::kUp;
    case 'B':
      return Kind::kDown;
    case 'C':
      return Kind::kRight;
    case 'D':
      return Kind::kLeft;
    case 'H':
      return Kind::kHome;
    case 'F':
      return Kind::kEnd;
    case '~': {
      const std::string_view first = params.substr(0, params.find(';'));
      if (first == "1" || first == "7") {
        return Kind::kHome;
      }
      if (first == "4" || first == "8") {
        return Kind::kEnd;
      }
      if (first == "3") {
        return Kind::kDelete;
      }
      if (first == "5") {
        return Kind::kPageUp;
      }
      if (first == "6") {
        return Kind::kPageDown;
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// Length of the UTF-8 sequence a lead byte announces; 0 for a byte that cannot lead.
std::size_t utf8_length(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) {
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    return 4;
  }
  return 0;
}

}  // namespace

std::vector<Key> KeyDecoder::feed(std::string_view bytes) {
  buf_.append(bytes);
  std::vector<Key> keys;
  std::size_t i = 0;
  while (i < buf_.size()) {
    const auto c = static_cast<unsigned char>(buf_[i]);
    if (c == 0x1B) {
      if (i + 1 >= buf_.size()) {
        break;  // lone ESC so far: wait for more or for flush()
      }
      const char kind = buf_[i + 1];
      if (kind == '[') {
        std::size_t j = i + 2;
        while (j < buf_.size() && static_cast<unsigned char>(buf_[j]) >= 0x20 &&
               static_cast<unsigned char>(buf_[j]) <= 0x3F) {
          ++j;
        }
        if (j >= buf_.size()) {
          break;
        }
        if (buf_[j] == '~' && std::string_view(buf_).substr(i + 2, j - i - 2) == "200") {
          // Bracketed paste: everything up to ESC [201~ is text, not keys.
          constexpr std::string_view kEnd = "\x1b[201~";
          const std::size_t end = buf_.find(kEnd, j + 1);
          if (end == std::string::npos && buf_.size() - i <= kMaxPaste) {
            break;  // kept from its start marker, so in_paste() holds until the end arrives
          }
          const std::size_t stop = end == std::string::npos ? buf_.size() : end;
          keys.push_back(Key{Kind::kPaste, 0, buf_.substr(j + 1, stop - j - 1)});
          i = end == std::string::npos ? buf_.size() : end + kEnd.size();
          continue;
        }
        if (const auto k = final_key(buf_[j], std::string_view(buf_).substr(i + 2, j - i - 2))) {
          keys.push_back(Key{*k});
        }
        i = j + 1;  // unknown sequences are consumed whole and ignored
      } else if (kind == 'O') {
        if (i + 2 >= buf_.size()) {
          break;
        }
        if (const auto k = final_key(buf_[i + 2], {})) {
          keys.push_back(Key{*k});
        }
        i += 3;
      } else if (kind == '\x1b') {
        i += 1;  // ESC ESC: the first is a lone press, the second starts what follows
      } else {
        // Alt+key: no binding, and never the letter itself (Alt-b would type "b").
        const std::size_t len =
            std::max<std::size_t>(1, utf8_length(static_cast<unsigned char>(kind)));
        if (i + 1 + len > buf_.size()) {
          break;
        }
        i += 1 + len;
      }
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      if (const auto k = control_key(c)) {
        keys.push_back(Key{*k});
      }
      ++i;
      continue;
    }
    if (c < 0x80) {
      keys.push_back(Key{Kind::kText, c});
      ++i;
      continue;
    }
    const std::size_t len = utf8_length(c);
    if (len == 0) {
      ++i;  // stray continuation or invalid lead byte
      continue;
    }
    if (i + len > buf_.size()) {
      break;
    }
    std::size_t k = i;
    if (const auto cp = proto::next_code_point(buf_, k)) {
      keys.push_back(Key{Kind::kText, *cp});
      i = k;
    } else {
      ++i;
    }
  }
  buf_.erase(0, i);
  return keys;
}

}  // namespace chat::client
