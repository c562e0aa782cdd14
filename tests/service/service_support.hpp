// Helpers for the service suite: temp files, sockets the test binds, a notify socket, IPv6 clients.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "tests/integration/assertions.hpp"
#include "tests/integration/chatd_process.hpp"
#include "tests/integration/test_client.hpp"

namespace chat::test::svc {

// A private directory under /tmp (short: socket paths hold at most 107 bytes),
// removed with its contents at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `text` to file(name) (replacing it) and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

// A listening TCP socket bound by the test, as systemd's chatd.socket would.
struct Listener {
  UniqueFd fd;
  std::uint16_t port = 0;
  explicit operator bool() const { return static_cast<bool>(fd); }
};
// Binds `address` (an IPv4 or IPv6 literal) on an ephemeral port and listens.
Listener listen_tcp(const std::string& address);
// Binds and listens on a Unix stream socket at `path`, as a socket unit would.
UniqueFd listen_unix(const std::string& path);
// A TCP port on 127.0.0.1 that was free a moment ago (for programs that bind it themselves).
std::uint16_t free_port();

// A framed protocol connection to any address, IPv6 included (TestClient is IPv4 only).
class Conn {
 public:
  Conn() = default;
  static Conn connect(const std::string& address, std::uint16_t port);
  explicit operator bool() const { return static_cast<bool>(fd_); }
  bool send_packet(std::string_view payload);
  // The next packet, or nullopt on timeout, EOF or error.
  std::optional<Packet> recv(std::chrono::milliseconds timeout = kPatience);

 private:
  UniqueFd fd_;
  std::string in_;
};

// sd_notify datagrams for a chatd the test starts without ChatdProcess.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path);
  const std::string& path() const { return path_; }
  explicit operator bool() const { return static_cast<bool>(fd_); }
  // Waits (bounded) for a datagram with `line` as one of its lines.
  bool wait_line(const std::string& line, std::chrono::milliseconds timeout = kPatience);

 private:
  std::string path_;
  UniqueFd fd_;
};

// Polls `done` until it holds or `timeout` passes (short slices; the wait is bounded).
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = kPatience);

// The lines of every notification datagram, in arrival order.
std::vector<std::string> notification_lines(ChatdProcess& chatd);
// The client count of a "STATUS=..." line (its first number), if it is one.
std::optional<long> status_client_count(const std::string& line);

using chat::test::Members;
using chat::test::next_is;
// The next packet's payload is exactly `raw` (byte for byte).
::testing::AssertionResult next_raw(TestClient& c, const std::string& raw,
                                    std::chrono::milliseconds timeout = kPatience);
using chat::test::error_then_close;
// Runs chatctl --socket SOCKET ARGS...; the exit code (-1 if it did not finish) and its output.
struct CtlResult {
  int exit_code = -1;
  std::string output;
};
CtlResult chatctl(const std::string& chatctl_path, const std::string& socket,
                  const std::vector<std::string>& args);

}  // namespace chat::test::svc
