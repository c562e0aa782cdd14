// ANSI drawing: DECSTBM scroll region, CUP positioning, EL clears; and the plain writer.
#include "client/screen.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <utility>

#include "client/highlight.hpp"
#include "client/line_editor.hpp"

namespace chat::client {
namespace {

constexpr std::string_view kMoreBelow = "-- more below --";
// The smallest window the layout works in: two conversation rows and a prompt.
constexpr int kMinRows = 3;
constexpr int kMinCols = 10;

std::string cup(int row, int col) {
  return "\x1b[" + std::to_string(row) + ";" + std::to_string(col) + "H";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string time_stamp(Look::Stamps stamps, std::int64_t ts_ms) {
  if (stamps == Look::Stamps::kOff) {
    return "";
  }
  static const bool tz_read = [] {
    ::tzset();  // localtime_r need not read TZ itself
    return true;
  }();
  (void)tz_read;
  const std::time_t t = static_cast<std::time_t>(ts_ms / 1000);
  std::tm local{};
  if (::localtime_r(&t, &local) == nullptr) {
    return "";
  }
  char buf[32];
  const std::size_t n = std::strftime(
      buf, sizeof buf, stamps == Look::Stamps::kSeconds ? "[%H:%M:%S] " : "[%H:%M] ", &local);
  return std::string(buf, n);
}

void LogFile::write(const Line& line) {
  const std::time_t t = static_cast<std::time_t>((line.ts_ms != 0 ? line.ts_ms : now_ms()) / 1000);
  std::tm local{};
  char stamp[32] = "";
  if (::localtime_r(&t, &local) != nullptr) {
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  }
  const std::string text =
      std::string(stamp) + (line.history ? " [history] " : " ") + line.text + "\n";
  std::lock_guard lock(mu_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

Screen::Screen(int out_fd, std::string nick, WinSize size, Look look)
    : fd_(out_fd), nick_(std::move(nick)), size_(size), look_(look) {
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
  const bool styled = line.history || line.alert != Line::Alert::kNone;
  if (line.history) {
    out += "\x1b[2m";
  }
  if (line.alert != Line::Alert::kNone) {
    out += "\x1b[1m";  // bold: visible with and without colours
  }
  out += time_stamp(look_.stamps, line.ts_ms);
  if (look_.color && line.nick_len > 0 && line.nick_pos + line.nick_len <= line.text.size()) {
    out.append(line.text, 0, line.nick_pos);
    out +=
        "\x1b[" + std::to_string(nick_colour(line.text.substr(line.nick_pos, line.nick_len))) + "m";
    out.append(line.text, line.nick_pos, line.nick_len);
    out += "\x1b[39m";
    out.append(line.text, line.nick_pos + line.nick_len);
  } else {
    out += line.text;
  }
  if (styled) {
    out += "\x1b[0m";
  }
}

void Screen::repaint_locked(std::string& out) {
  out += "\x1b[r\x1b[2J\x1b[1;" + std::to_string(size_.rows - 1) + "r";
  const auto height = static_cast<std::size_t>(size_.rows - 1);
  const std::size_t end = kept_.size() - std::min(scroll_, kept_.size());
  const std::size_t room = scroll_ > 0 ? height - 1 : height;
  for (std::size_t i = end - std::min(end, room); i < end; ++i) {
    print_locked(out, kept_[i]);
  }
  if (scroll_ > 0) {
    out += cup(size_.rows - 1, 1);
    out += "\r\n\x1b[1m";
    out += kMoreBelow;
    out += "\x1b[0m";
  }
}

void Screen::page(int direction) {
  std::lock_guard lock(mu_);
  if (!started_ || finished_) {
    return;
  }
  // A page keeps one line of context; the oldest line stops at the top row.
  const auto height = static_cast<std::size_t>(size_.rows - 1);
  const std::size_t step = std::max<std::size_t>(1, height - 2);
  const std::size_t room = height - 1;
  const std::size_t max_scroll = kept_.size() > room ? kept_.size() - room : 0;
  const std::size_t before = scroll_;
  scroll_ =
      direction < 0 ? std::min(scroll_ + step, max_scroll) : scroll_ - std::min(scroll_, step);
  if (scroll_ == before) {
    return;
  }
  std::string out;
  repaint_locked(out);
  draw_input_locked(out);
  flush_locked(out);
}

void Screen::bottom() {
  std::lock_guard lock(mu_);
  if (!started_ || finished_ || scroll_ == 0) {
    return;
  }
  scroll_ = 0;
  std::string out;
  repaint_locked(out);
  draw_input_locked(out);
  flush_locked(out);
}

bool Screen::scrolled() {
  std::lock_guard lock(mu_);
  return scroll_ > 0;
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
  // Bracketed paste on: a paste arrives marked, so it is never taken for keys.
  std::string out = "\x1b[?2004h\x1b[1;" + std::to_string(size_.rows - 1) + "r";
  draw_input_locked(out);
  flush_locked(out);
  started_ = true;
}

void Screen::add_line(const Line& line) {
  std::lock_guard lock(mu_);
  kept_.push_back(line);
  if (kept_.back().ts_ms == 0) {
    kept_.back().ts_ms = now_ms();
  }
  if (log_ != nullptr) {
    log_->write(kept_.back());
  }
  if (kept_.size() > std::max<std::size_t>(look_.scrollback, 1)) {
    kept_.pop_front();
  }
  if (!started_ || finished_) {
    return;
  }
  std::string out;
  const bool ring = !line.history &&
                    ((line.alert == Line::Alert::kDm && look_.bell != Look::Bell::kOff) ||
                     (line.alert == Line::Alert::kMention && look_.bell == Look::Bell::kMention));
  if (ring) {
    out += '\a';
  }
  if (scroll_ > 0) {
    // Scrolled back: the view stays on what the user is reading.
    // (Once the scrollback is full the oldest line goes: the view stops at the top.)
    const auto room = static_cast<std::size_t>(size_.rows - 2);
    scroll_ = std::min(scroll_ + 1, kept_.size() > room ? kept_.size() - room : 0);
  } else {
    print_locked(out, kept_.back());
    draw_input_locked(out);
  }
  if (!out.empty()) {
    flush_locked(out);
  }
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
  std::string out;
  repaint_locked(out);
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
  out += "\x1b[?2004l\x1b[r";
  out += cup(size_.rows, 1);
  out += "\x1b[2K";
  flush_locked(out);
}

void PlainDisplay::add_line(const Line& line) {
  std::lock_guard lock(mu_);
  if (log_ != nullptr) {
    log_->write(line);
  }
  const std::string stamp = time_stamp(stamps_, line.ts_ms != 0 ? line.ts_ms : now_ms());
  (void)write_all(fd_, stamp + (line.history ? "[history] " : "") + line.text + "\n");
}

}  // namespace chat::client
