// Keyboard bytes -> key events: UTF-8 text, control keys and ANSI/VT escape sequences.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chat::client {

struct Key {
  enum class Kind {
    kText,  // `cp` holds the character
    kEnter,
    kBackspace,
    kDelete,
    kLeft,
    kRight,
    kUp,
    kDown,
    kHome,
    kEnd,
    kTab,
    kInterrupt,  // Ctrl-C
    kEof,        // Ctrl-D
    kKillToStart,
    kKillToEnd,
    kKillWord,
    kRedraw,  // Ctrl-L
  };
  Kind kind;
  char32_t cp = 0;
  bool operator==(const Key&) const = default;
};

// Incremental: a sequence split across reads is completed by the next feed().
class KeyDecoder {
 public:
  std::vector<Key> feed(std::string_view bytes);
  // True while an incomplete sequence is buffered (a lone ESC, half a character).
  bool pending() const { return !buf_.empty(); }
  // Drops what is pending: called when no more bytes follow shortly, so a lone
  // ESC press does not swallow the next key.
  void flush() { buf_.clear(); }

 private:
  std::string buf_;
};

}  // namespace chat::client
