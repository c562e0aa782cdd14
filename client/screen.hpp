// Where received lines go: the ANSI screen (scroll region + pinned input row) or plain stdout.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

#include "client/render.hpp"
#include "client/terminal.hpp"

namespace chat::client {

// Shared by the receiver thread (lines, room changes) and the main thread.
class Display {
 public:
  virtual ~Display() = default;
  virtual void add_line(const Line& line) = 0;
  // The room the user is in; shown in the prompt when it is not the lobby.
  virtual void set_room(const std::string& room) = 0;
};

// The terminal UI. Rows 1..R-1 are a scroll region for the conversation; row R
// holds the prompt and the visible part of the input line. Every update is built
// as one string and written under the one mutex, and every line printed ends by
// redrawing the input row, so arriving lines never corrupt what is being typed.
class Screen : public Display {
 public:
  Screen(int out_fd, std::string nick, WinSize size);
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;
  ~Screen() override;

  // Sets the scroll region and draws the prompt.
  void start();
  void add_line(const Line& line) override;
  void set_room(const std::string& room) override;
  // The input line as the editor holds it (main thread, after every key).
  void set_input(const std::u32string& text, std::size_t cursor);
  // New window size (SIGWINCH) or Ctrl-L: repaints the kept lines and the input.
  void resize(WinSize size);
  // Prints `farewell` (if any), resets the scroll region and leaves the cursor on
  // a cleared bottom row. Idempotent; the destructor calls it too.
  void finish(const std::string& farewell);

 private:
  std::string prompt_locked() const;
  void print_locked(std::string& out, const Line& line) const;
  void draw_input_locked(std::string& out);
  void flush_locked(const std::string& out) const;

  std::mutex mu_;
  const int fd_;
  const std::string nick_;
  std::string room_;
  WinSize size_;
  std::u32string input_;
  std::size_t cursor_ = 0;
  std::size_t first_ = 0;  // horizontal scroll of the input line
  std::deque<Line> kept_;  // recent lines, repainted after a resize
  bool started_ = false;
  bool finished_ = false;
};

// Plain line mode (stdin is not a terminal): one line per received packet on
// stdout, no escape sequences; history lines are prefixed "[history] ".
class PlainDisplay : public Display {
 public:
  explicit PlainDisplay(int out_fd) : fd_(out_fd) {}
  void add_line(const Line& line) override;
  void set_room(const std::string&) override {}

 private:
  std::mutex mu_;
  const int fd_;
};

}  // namespace chat::client
