// Nick, room and message rules of PROTOCOL.md, and the UTF-8 helpers they need.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chat::proto {

inline constexpr std::size_t kMaxNickCodePoints = 32;

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or
// nullopt (i unchanged) for an invalid, overlong, surrogate or truncated sequence.
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i);
bool is_valid_utf8(std::string_view s);
// Number of code points; the string must be valid UTF-8.
std::size_t code_point_count(std::string_view s);

// U+0000-U+001F and U+007F-U+009F.
constexpr bool is_control(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}
bool is_unicode_space(char32_t c);

// Non-empty, at most 32 code points, no whitespace, no control characters and
// none of ": / * @ , # !". Against spoofing (PROTOCOL-DECISIONS.md 26) also none of:
// default-ignorable, format, bidi-control, unassigned, private-use, or blank-looking
// code points; a combining mark first, or one that neither belongs to a script nor
// composes with its base; the forbidden characters or whitespace after NFKC or as a
// symbol's confusable skeleton; "->" or "<-" in the skeleton (a DM's arrow).
// Rooms follow the same rules.
bool is_valid_nick(std::string_view nick);
inline bool is_valid_room(std::string_view room) {
  return is_valid_nick(room);
}
// Non-empty and free of control characters.
bool is_valid_message(std::string_view message);

// Key under which nicks are compared: the UTS #39 confusable skeleton of the NFKC
// case-folded nick (case-folded again, so that confusables of either case meet):
// "Pat", "ｐａｔ" and "pаt" (Cyrillic а) share one key. Defined for any input; a
// string ICU cannot process gets a key no valid nick has (it starts with 0xFF).
std::string nick_key(std::string_view nick);
// Rooms are told apart the same way.
inline std::string room_key(std::string_view room) {
  return nick_key(room);
}
// ASCII letters folded to lower case, every other byte kept: for prefix matching
// (Tab completion), where a skeleton would not keep prefixes.
std::string ascii_fold(std::string_view text);

// `text` cut to at most `max_bytes` bytes (never inside a UTF-8 sequence), with
// `marker` appended when anything was cut (the marker counts towards max_bytes).
std::string truncate_utf8(std::string_view text, std::size_t max_bytes,
                          std::string_view marker = {});

}  // namespace chat::proto
