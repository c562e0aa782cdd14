// ANSI drawing: DECSTBM scroll region, CUP positioning, EL clears; and the plain writer.
#include "client/screen.hpp"

#include <algorithm>
#include <utility>

#include "client/line_editor.hpp"

namespace chat::client {
namespace {

constexpr std::size_t kKeptLines = 500;
// The smallest window the layout works in: two conversation rows and a prompt.
constexpr int kMinRows = 3;
constexpr int kMinCols = 10;

std::string cup(int row, int col) {
  return "\x1b[" + std::to_string(row) + ";" + std::to_string(col) + "H";
}

}  // namespace

Screen::Screen(int out_fd, std::string nick, WinSize size)
    : fd_(out_fd), nick_(std::move(nick)), size_(size) {
  size_.rows = std::max(size_.rows, kMinRows);
  size_.cols = std::max(size_.cols, kMinCols);
}

Screen::~Screen() {
  finish("");
}

void Screen::flush_locked(const std::string& out) const {
  // A failed write means the terminal is gone; there is nobody left to tell.
  (void)write_all(fd_, out);
}

std::string Screen::prompt_locked() const {
  std::string prompt = sanitize(nick_);
  if (!room_.empty() && room_ != "lobby") {
    prompt += " [" + sanitize(room_) + "]";
  }
  prompt += "> ";
  // A prompt that would leave no room to type is shortened to its marker.
  if (display_width(prompt) + 8 > static_cast<std::size_t>(size_.cols)) {
    prompt = "> ";
  }
  return prompt;
}

void Screen::print_locked(std::string& out, const Line& line) const {
  // Scroll the region up from its last row, then write there: long lines wrap
  // inside the region and scroll it, never the input row.
  out += cup(size_.rows - 1, 1);
  out += "\r\n";
  if (line.history) {
    out += "\x1b[2m" + line.text + "\x1b[0m";
  } else {
    out += line.text;
  }
}

void Screen::draw_input_locked(std::string& out) {
  const std::string prompt = prompt_locked();
  const std::size_t prompt_width = display_width(prompt);
  // The last column stays empty so the cursor never sits in a pending wrap.
  const std::size_t avail = static_cast<std::size_t>(size_.cols) - prompt_width - 1;
  const InputView view = layout_input(input_, cursor_, avail, first_);
  out += cup(size_.rows, 1);
  out += "\x1b[2K";
  out += prompt;
  out += view.visible;
  out += cup(size_.rows, static_cast<int>(prompt_width + view.cursor_col + 1));
}

void Screen::start() {
  std::lock_guard lock(mu_);
  std::string out = "\x1b[1;" + std::to_string(size_.rows - 1) + "r";
  draw_input_locked(out);
  flush_locked(out);
  started_ = true;
}

void Screen::add_line(const Line& line) {
  std::lock_guard lock(mu_);
  kept_.push_back(line);
  if (kept_.size() > kKeptLines) {
    kept_.pop_front();
  }
  if (!started_ || finished_) {
    return;
  }
  std::string out;
  print_locked(out, line);
  draw_input_locked(out);
  flush_locked(out);
}

void Screen::set_room(const std::string& room) {
  std::lock_guard lock(mu_);
  room_ = room;
  if (!started_ || finished_) {
    return;
  }
  std::string out;
  draw_input_locked(out);
  flush_locked(out);
}

void Screen::set_input(const std::u32string& text, std::size_t cursor) {
  std::lock_guard lock(mu_);
  input_ = text;
  cursor_ = cursor;
  if (!started_ || finished_) {
    return;
  }
  std::string out;
  draw_input_locked(out);
  flush_locked(out);
}

void Screen::resize(WinSize size) {
  std::lock_guard lock(mu_);
  size_.rows = std::max(size.rows, kMinRows);
  size_.cols = std::max(size.cols, kMinCols);
  if (!started_ || finished_) {
    return;
  }
  std::string out = "\x1b[r\x1b[2J\x1b[1;" + std::to_string(size_.rows - 1) + "r";
  const std::size_t shown = std::min(kept_.size(), static_cast<std::size_t>(size_.rows - 1));
  for (auto it = kept_.end() - static_cast<std::ptrdiff_t>(shown); it != kept_.end(); ++it) {
    print_locked(out, *it);
  }
  draw_input_locked(out);
  flush_locked(out);
}

void Screen::finish(const std::string& farewell) {
  std::lock_guard lock(mu_);
  if (!started_ || finished_) {
    return;
  }
  finished_ = true;
  std::string out;
  if (!farewell.empty()) {
    print_locked(out, Line{farewell});
  }
  out += "\x1b[r";
  out += cup(size_.rows, 1);
  out += "\x1b[2K";
  flush_locked(out);
}

void PlainDisplay::add_line(const Line& line) {
  std::lock_guard lock(mu_);
  (void)write_all(fd_, (line.history ? "[history] " : "") + line.text + "\n");
}

}  // namespace chat::client
