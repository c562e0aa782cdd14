// Mention matching and nick colours: pure functions, unit-tested and used by the receiver and
// screen.
#include "client/highlight.hpp"

#include <array>
#include <cstdint>
#include <string>

#include "protocol/rules.hpp"

namespace chat::client {
namespace {

// Bytes that continue a word: a nick next to one of these is part of a longer word.
bool word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         u == '_' || u == '-';
}

}  // namespace

bool mentions(std::string_view text, std::string_view nick) {
  if (nick.empty()) {
    return false;
  }
  const std::string hay = proto::nick_key(text);
  const std::string needle = proto::nick_key(nick);
  for (std::size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
    const bool starts = at == 0 || !word_byte(hay[at - 1]);
    const std::size_t end = at + needle.size();
    const bool ends = end == hay.size() || !word_byte(hay[end]);
    if (starts && ends) {
      return true;
    }
  }
  return false;
}

int nick_colour(std::string_view nick) {
  static constexpr std::array kPalette{31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96};
  std::uint32_t h = 2166136261U;  // FNV-1a
  for (const char c : proto::nick_key(nick)) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return kPalette[h % kPalette.size()];
}

}  // namespace chat::client
