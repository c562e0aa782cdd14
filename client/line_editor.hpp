// UTF-8 editing of the input line (code-point based, width-aware) and its horizontal layout.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chat::client {

// The line being typed: a sequence of code points and a cursor between them.
// Pure state, no terminal: the main thread owns it and hands snapshots to the screen.
class LineEditor {
 public:
  // Inserts typed or pasted text at the cursor. Invalid UTF-8 and control
  // characters are dropped (the server would refuse them); a tab becomes a space.
  void insert(std::string_view utf8);
  void insert(char32_t cp);
  // Removes the whole code point before / under the cursor.
  void backspace();
  void delete_forward();
  void left();
  void right();
  void home();
  void end();
  // Ctrl-U, Ctrl-K, Ctrl-W.
  void kill_to_start();
  void kill_to_end();
  void kill_word();
  // Up / Down through the lines taken so far; the draft being typed is kept.
  void history_up();
  void history_down();
  // Returns the line and clears it; a non-empty line joins the history.
  std::string take_line();
  // Replaces the text (tab completion) and puts the cursor at `cursor` (code points).
  void set(std::u32string text, std::size_t cursor);

  const std::u32string& code_points() const { return text_; }
  std::size_t cursor() const { return cursor_; }
  std::string text() const;
  bool empty() const { return text_.empty(); }
  const std::vector<std::u32string>& history() const { return history_; }

 private:
  std::u32string text_;
  std::size_t cursor_ = 0;
  std::vector<std::u32string> history_;
  std::size_t history_pos_ = 0;  // == history_.size(): editing the draft
  std::u32string draft_;
};

// What the input row shows: the part of the line that fits and where the cursor is.
struct InputView {
  std::string visible;       // sanitized UTF-8, at most `avail` columns
  std::size_t cursor_col{};  // columns from the start of `visible`
};

// Lays out `text` in `avail` columns keeping the cursor visible. `first` (code
// points scrolled off to the left) is kept between calls so the view moves only
// when it must; a line that fits is never scrolled.
InputView layout_input(const std::u32string& text, std::size_t cursor, std::size_t avail,
                       std::size_t& first);

std::string to_utf8(const std::u32string& text);
std::u32string from_utf8(std::string_view utf8);  // drops invalid bytes

}  // namespace chat::client
