// Where received lines go: the ANSI screen (scroll region + pinned input row) or plain stdout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>

#include "client/render.hpp"
#include "client/terminal.hpp"

namespace chat::client {

// How lines are decorated; from the command line (and the config file).
struct Look {
  enum class Stamps { kOff, kMinutes, kSeconds };  // [HH:MM], [HH:MM:SS]
  enum class Bell { kMention, kDm, kOff };         // mention: mentions and DMs
  Stamps stamps = Stamps::kMinutes;
  Bell bell = Bell::kMention;
  bool color = true;  // nick colours (never with NO_COLOR or --color=never)
  std::size_t scrollback = 2000;
};

// "[12:34] " for `ts_ms` in local time, or "" when stamps are off.
std::string time_stamp(Look::Stamps stamps, std::int64_t ts_ms);

// --log-file: every line shown, appended with its date and time, one write each.
class LogFile {
 public:
  explicit LogFile(std::FILE* file) : file_(file) {}
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile() { std::fclose(file_); }
  void write(const Line& line);

 private:
  std::mutex mu_;
  std::FILE* file_;
};

// Shared by the receiver thread (lines, room changes) and the main thread.
class Display {
 public:
  virtual ~Display() = default;
  // Where shown lines are also logged; set before any line arrives.
  void set_log(LogFile* log) { log_ = log; }
  virtual void add_line(const Line& line) = 0;
  // The room the user is in; shown in the prompt when it is not the lobby.
  virtual void set_room(const std::string& room) = 0;

 protected:
  LogFile* log_ = nullptr;
};

// The terminal UI. Rows 1..R-1 are a scroll region for the conversation; row R
// holds the prompt and the visible part of the input line. Every update is built
// as one string and written under the one mutex, and every line printed ends by
// redrawing the input row, so arriving lines never corrupt what is being typed.
class Screen : public Display {
 public:
  Screen(int out_fd, std::string nick, WinSize size, Look look = {});
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
  // Scrollback: one page older (-1) or newer (+1); bottom() returns to the live end.
  void page(int direction);
  void bottom();
  bool scrolled();
  // Prints `farewell` (if any), resets the scroll region and leaves the cursor on
  // a cleared bottom row. Idempotent; the destructor calls it too.
  void finish(const std::string& farewell);

 private:
  std::string prompt_locked() const;
  void print_locked(std::string& out, const Line& line) const;
  // Clears the conversation area and draws the kept lines the view ends at.
  void repaint_locked(std::string& out);
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
  const Look look_;
  std::deque<Line> kept_;   // recent lines: scrollback, repainted after a resize
  std::size_t scroll_ = 0;  // lines below the view; 0 = following the conversation
  bool started_ = false;
  bool finished_ = false;
};

// Plain line mode (stdin is not a terminal): one line per received packet on
// stdout, no escape sequences; history lines are prefixed "[history] ".
class PlainDisplay : public Display {
 public:
  explicit PlainDisplay(int out_fd, Look::Stamps stamps = Look::Stamps::kOff)
      : fd_(out_fd), stamps_(stamps) {}
  void add_line(const Line& line) override;
  void set_room(const std::string&) override {}

 private:
  std::mutex mu_;
  const int fd_;
  const Look::Stamps stamps_;
};

}  // namespace chat::client
