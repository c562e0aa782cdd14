// Test harness for the real chat_client: a fake server, a pty driver and a small VT100 model.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/support/patience.hpp"

namespace chat::test {

// Every wait in these tests is bounded by kPatience; none asserts on timing.

// The test plays the server: listens on 127.0.0.1:0 and speaks raw frames.
class FakeServer {
 public:
  FakeServer();
  std::string port() const { return std::to_string(port_); }
  // Accepts the client's connection.
  bool accept();
  // The next payload from the client; nullopt on end of stream, error or timeout.
  std::optional<std::string> read_frame(std::chrono::milliseconds wait = kPatience);
  // True when the client closed its side with no further frame.
  bool read_eof();
  void send(const std::string& payload);
  void send_raw(const std::string& bytes);
  void close_client() { conn_.reset(); }

 private:
  bool fill(std::chrono::milliseconds wait);
  UniqueFd listen_;
  UniqueFd conn_;
  int port_ = 0;
  std::string buf_;
  bool eof_ = false;
};

// A deliberately small VT100/xterm model: enough to know what a user would see
// (rows of text, cursor position, scroll region), and it records every control
// character or escape sequence outside the small set chat_client is meant to use.
class VtScreen {
 public:
  VtScreen(int rows, int cols);
  void feed(const std::string& bytes);
  void resize(int rows, int cols);
  // Row r (0-based) with trailing blanks removed.
  std::string row(int r) const;
  std::string dump() const;
  int rows() const { return rows_; }
  int cursor_row() const { return crow_; }
  int cursor_col() const { return ccol_; }
  bool scroll_region_reset() const { return top_ == 0 && bottom_ == rows_ - 1; }
  const std::vector<std::string>& unexpected() const { return unexpected_; }
  int bells() const { return bells_; }

 private:
  void put(char32_t cp);
  void index();
  void csi(const std::string& params, char final);
  std::vector<std::vector<std::string>> cells_;
  int rows_;
  int cols_;
  int crow_ = 0;
  int ccol_ = 0;
  int top_ = 0;
  int bottom_;
  bool wrap_pending_ = false;
  std::string pending_;  // an incomplete sequence across feeds
  std::vector<std::string> unexpected_;
  int bells_ = 0;
};

// The real chat_client in a pseudo-terminal with a window size.
class PtyClient {
 public:
  // `env`: "NAME=value" or "NAME" (removed) over the harness's fixed TERM=xterm,
  // TZ=UTC, LC_ALL=C.UTF-8, no NO_COLOR and an empty XDG_CONFIG_HOME.
  PtyClient(const std::vector<std::string>& args, int rows = 24, int cols = 80,
            const std::vector<std::string>& env = {});
  ~PtyClient();
  void type(const std::string& keys);
  // Waits until `pred` holds for the screen model; false on timeout.
  bool wait_screen(const std::function<bool(const VtScreen&)>& pred);
  bool wait_row(int row, const std::string& text);
  bool wait_text(const std::string& text);  // anywhere on the screen
  bool wait_raw(const std::string& bytes);  // anywhere in the output so far
  // Exit code (128+signal if killed); nullopt on timeout.
  std::optional<int> wait_exit();
  void resize(int rows, int cols);
  void signal(int sig);
  std::string raw() const;
  std::string dump() const;
  std::vector<std::string> unexpected() const;
  int master() const { return master_.get(); }

 private:
  void reader();
  UniqueFd master_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  VtScreen screen_;
  std::string raw_;
  bool closed_ = false;
  std::thread reader_;
};

// The real chat_client with stdin/stdout/stderr on pipes (plain mode).
class PipedClient {
 public:
  explicit PipedClient(const std::vector<std::string>& args,
                       const std::vector<std::string>& env = {});
  ~PipedClient();
  void write_stdin(const std::string& data);
  void close_stdin() { in_.reset(); }
  std::optional<int> wait_exit();
  // Everything on stdout / stderr until the client closed them (bounded wait).
  std::string read_all_stdout();
  std::string read_all_stderr();
  // Waits until stdout has shown `text`.
  bool wait_stdout(const std::string& text);

 private:
  std::string out_buf_;
  pid_t pid_ = -1;
  std::optional<int> status_;
  UniqueFd in_;
  UniqueFd out_;
  UniqueFd err_;
};

std::string client_path();
// Wait status -> exit code, 128+signal for a signal.
int exit_code_of(int status);

}  // namespace chat::test
