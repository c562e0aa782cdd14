// Unit tests for the line editor and the input line's horizontal layout.
#include "client/line_editor.hpp"

#include <gtest/gtest.h>

namespace chat::client {
namespace {

TEST(ClientLineEditor, InsertsAtTheCursorAndBackspaceRemovesWholeCodePoints) {
  LineEditor e;
  e.insert("a中😀é");
  EXPECT_EQ(e.cursor(), 4u);
  e.backspace();
  EXPECT_EQ(e.text(), "a中😀");
  e.backspace();
  EXPECT_EQ(e.text(), "a中");
  e.backspace();
  EXPECT_EQ(e.text(), "a");
  e.backspace();
  e.backspace();
  EXPECT_EQ(e.text(), "");
}

TEST(ClientLineEditor, CursorMovesAndEditsInTheMiddle) {
  LineEditor e;
  e.insert("held");
  e.left();
  e.left();
  e.insert(U'l');
  EXPECT_EQ(e.text(), "helld");
  e.home();
  e.delete_forward();
  EXPECT_EQ(e.text(), "elld");
  e.end();
  e.insert("!");
  EXPECT_EQ(e.text(), "elld!");
  e.right();
  EXPECT_EQ(e.cursor(), 5u);
}

TEST(ClientLineEditor, ControlCharactersAreDroppedAndTabBecomesSpace) {
  LineEditor e;
  e.insert("a\x1b[2J\tb\x7f\xff");
  EXPECT_EQ(e.text(), "a[2J b");
}

TEST(ClientLineEditor, KillCommands) {
  LineEditor e;
  e.insert("one two  three");
  e.kill_word();
  EXPECT_EQ(e.text(), "one two  ");
  e.kill_word();
  EXPECT_EQ(e.text(), "one ");
  e.insert("x y");
  e.left();
  e.kill_to_end();
  EXPECT_EQ(e.text(), "one x ");
  e.kill_to_start();
  EXPECT_EQ(e.text(), "");
}

TEST(ClientLineEditor, HistoryRecallsLinesAndKeepsTheDraft) {
  LineEditor e;
  e.insert("one");
  EXPECT_EQ(e.take_line(), "one");
  e.insert("two");
  EXPECT_EQ(e.take_line(), "two");
  e.insert("two");
  e.take_line();  // a repeat is stored once
  EXPECT_EQ(e.history().size(), 2u);
  e.insert("draft");
  e.history_up();
  EXPECT_EQ(e.text(), "two");
  e.history_up();
  EXPECT_EQ(e.text(), "one");
  e.history_up();
  EXPECT_EQ(e.text(), "one");
  e.history_down();
  e.history_down();
  EXPECT_EQ(e.text(), "draft");
  e.history_down();
  EXPECT_EQ(e.text(), "draft");
}

TEST(ClientLineEditor, EmptyLinesDoNotEnterHistory) {
  LineEditor e;
  EXPECT_EQ(e.take_line(), "");
  EXPECT_TRUE(e.history().empty());
}

TEST(ClientLayout, ShortLineIsShownWhole) {
  std::size_t first = 0;
  const auto v = layout_input(U"a中b", 2, 20, first);
  EXPECT_EQ(v.visible, "a中b");
  EXPECT_EQ(v.cursor_col, 3u);
  EXPECT_EQ(first, 0u);
}

TEST(ClientLayout, LongLineScrollsToKeepTheCursorVisible) {
  std::u32string text(30, U'x');
  text[29] = U'z';
  std::size_t first = 0;
  auto v = layout_input(text, 30, 10, first);
  EXPECT_EQ(first, 21u);
  EXPECT_EQ(v.visible, "xxxxxxxxz");
  EXPECT_EQ(v.cursor_col, 9u);
  // Moving left inside the view does not scroll it.
  v = layout_input(text, 25, 10, first);
  EXPECT_EQ(first, 21u);
  EXPECT_EQ(v.cursor_col, 4u);
  // Moving before the view scrolls it left.
  v = layout_input(text, 3, 10, first);
  EXPECT_EQ(first, 3u);
  EXPECT_EQ(v.cursor_col, 0u);
  EXPECT_EQ(v.visible.size(), 10u);
}

TEST(ClientLayout, WideCharactersNeverOverflowTheWidth) {
  std::u32string text(20, U'中');
  std::size_t first = 0;
  const auto v = layout_input(text, 20, 9, first);
  EXPECT_EQ(v.visible, "中中中中");  // 8 columns; the cursor cell is the 9th
  EXPECT_EQ(v.cursor_col, 8u);
}

TEST(ClientLayout, ShrinkingLineScrollsBack) {
  std::u32string text(30, U'x');
  std::size_t first = 0;
  layout_input(text, 30, 10, first);
  EXPECT_GT(first, 0u);
  text.resize(5);
  const auto v = layout_input(text, 5, 10, first);
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(v.visible, "xxxxx");
}

TEST(ClientLayout, BidiControlsInTheInputAreShownInert) {
  std::size_t first = 0;
  const auto v = layout_input(U"a\u202Eb", 3, 20, first);
  EXPECT_EQ(v.visible,
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(v.cursor_col, 3u);
}

}  // namespace
}  // namespace chat::client
