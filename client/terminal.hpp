// The controlling terminal: raw mode held by RAII, window size, whole writes.
#pragma once

#include <termios.h>

#include <string_view>

namespace chat::client {

// Puts a terminal in raw mode (no echo, no line buffering, no signal keys: Ctrl-C
// and Ctrl-D arrive as bytes) and restores the saved mode when destroyed.
class RawMode {
 public:
  explicit RawMode(int fd);
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;
  ~RawMode();
  bool ok() const { return active_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

struct WinSize {
  int rows = 24;
  int cols = 80;
};
// The window size of terminal `fd`; 24x80 when it reports none (a fresh pty).
WinSize window_size(int fd);

// Writes all of `data`, retrying after EINTR and short writes; false on error.
bool write_all(int fd, std::string_view data);

}  // namespace chat::client
