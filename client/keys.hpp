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
    kPageUp,  // also Shift-PgUp
    kPageDown,
    kPaste,  // a bracketed paste: `text` holds it, raw (newlines, tabs included)
  };
  Kind kind;
  char32_t cp = 0;
  std::string text = {};
  bool operator==(const Key&) const = default;
};

// Incremental: a sequence split across reads is completed by the next feed().
class KeyDecoder {
 public:
  std::vector<Key> feed(std::string_view bytes);
  // True while an incomplete sequence is buffered (a lone ESC, half a character);
  // not while a bracketed paste is still arriving, which may take its time.
  bool pending() const { return !buf_.empty() && !in_paste(); }
  // Drops what is pending: called when no more bytes follow shortly, so a lone
  // ESC press does not swallow the next key.
  void flush() {
    if (!in_paste()) {
      buf_.clear();
    }
  }
  // A paste larger than this without its end marker is taken as it stands.
  static constexpr std::size_t kMaxPaste = std::size_t{1} << 20;

 private:
  bool in_paste() const { return buf_.starts_with("\x1b[200~"); }
  std::string buf_;
};

}  // namespace chat::client
