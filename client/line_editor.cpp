// Line editor operations and the horizontal scrolling of long input lines.
#include "client/line_editor.hpp"

#include <utility>

#include "client/render.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
namespace {

// Columns one buffered code point takes once made inert (bidi controls become U+FFFD).
std::size_t cell_width(char32_t cp) {
  std::string inert;
  append_inert(inert, cp);
  std::size_t i = 0;
  const auto shown = proto::next_code_point(inert, i);
  return static_cast<std::size_t>(code_point_width(shown.value_or(0xFFFD)));
}

std::size_t width_of(const std::u32string& text, std::size_t from, std::size_t to) {
  std::size_t w = 0;
  for (std::size_t i = from; i < to && i < text.size(); ++i) {
    w += cell_width(text[i]);
  }
  return w;
}

bool is_word_space(char32_t cp) {
  return cp == U' ' || proto::is_unicode_space(cp);
}

}  // namespace

std::string to_utf8(const std::u32string& text) {
  std::string out;
  for (char32_t cp : text) {
    append_inert(out, cp);  // the buffer holds no controls, so this is plain encoding
  }
  return out;
}

std::u32string from_utf8(std::string_view utf8) {
  std::u32string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    if (const auto cp = proto::next_code_point(utf8, i)) {
      out += *cp;
    } else {
      ++i;
    }
  }
  return out;
}

void LineEditor::insert(std::string_view utf8) {
  for (char32_t cp : from_utf8(utf8)) {
    insert(cp);
  }
}

void LineEditor::insert(char32_t cp) {
  if (cp == U'\t') {
    cp = U' ';
  }
  if (proto::is_control(cp)) {
    return;
  }
  text_.insert(cursor_, 1, cp);
  ++cursor_;
}

void LineEditor::backspace() {
  if (cursor_ > 0) {
    text_.erase(--cursor_, 1);
  }
}

void LineEditor::delete_forward() {
  if (cursor_ < text_.size()) {
    text_.erase(cursor_, 1);
  }
}

void LineEditor::left() {
  if (cursor_ > 0) {
    --cursor_;
  }
}

void LineEditor::right() {
  if (cursor_ < text_.size()) {
    ++cursor_;
  }
}

void LineEditor::home() {
  cursor_ = 0;
}
void LineEditor::end() {
  cursor_ = text_.size();
}

void LineEditor::kill_to_start() {
  text_.erase(0, cursor_);
  cursor_ = 0;
}

void LineEditor::kill_to_end() {
  text_.erase(cursor_);
}

void LineEditor::kill_word() {
  std::size_t start = cursor_;
  while (start > 0 && is_word_space(text_[start - 1])) {
    --start;
  }
  while (start > 0 && !is_word_space(text_[start - 1])) {
    --start;
  }
  text_.erase(start, cursor_ - start);
  cursor_ = start;
}

void LineEditor::history_up() {
  if (history_pos_ == 0) {
    return;
  }
  if (history_pos_ == history_.size()) {
    draft_ = text_;
  }
  --history_pos_;
  text_ = history_[history_pos_];
  cursor_ = text_.size();
}

void LineEditor::history_down() {
  if (history_pos_ >= history_.size()) {
    return;
  }
  ++history_pos_;
  text_ = history_pos_ == history_.size() ? draft_ : history_[history_pos_];
  cursor_ = text_.size();
}

std::string LineEditor::take_line() {
  std::string line = to_utf8(text_);
  if (!text_.empty() && (history_.empty() || history_.back() != text_)) {
    history_.push_back(text_);
  }
  text_.clear();
  draft_.clear();
  cursor_ = 0;
  history_pos_ = history_.size();
  return line;
}

void LineEditor::set(std::u32string text, std::size_t cursor) {
  text_ = std::move(text);
  cursor_ = std::min(cursor, text_.size());
}

std::string LineEditor::text() const {
  return to_utf8(text_);
}

InputView layout_input(const std::u32string& text, std::size_t cursor, std::size_t avail,
                       std::size_t& first) {
  // Work proportional to the visible width, never to the line's length: a recalled
  // 70k-character line must lay out as fast as a short one.
  if (avail == 0) {
    avail = 1;
  }
  cursor = std::min(cursor, text.size());
  first = std::min(first, cursor);
  // One cell is kept for the cursor itself when it sits after the last character.
  // The leftmost start that still shows the cursor: walk back from it.
  std::size_t start = cursor;
  std::size_t used = 1;
  while (start > first && used + cell_width(text[start - 1]) <= avail) {
    used += cell_width(text[start - 1]);
    --start;
  }
  if (start > first) {
    first = start;  // the cursor moved past the right edge: scroll just enough
  }
  // Scroll back as far as the rest of the line allows, so deleting never leaves
  // the view scrolled with empty space on the right.
  if (first > 0) {
    std::size_t tail = 1;
    for (std::size_t i = first; i < text.size() && tail <= avail; ++i) {
      tail += cell_width(text[i]);
    }
    while (first > 0 && tail + cell_width(text[first - 1]) <= avail) {
      tail += cell_width(text[first - 1]);
      --first;
    }
  }
  InputView view;
  std::size_t col = 0;
  for (std::size_t i = first; i < text.size(); ++i) {
    const std::size_t w = cell_width(text[i]);
    if (col + w > avail) {
      break;
    }
    append_inert(view.visible, text[i]);
    col += w;
  }
  view.cursor_col = width_of(text, first, cursor);
  return view;
}

}  // namespace chat::client
