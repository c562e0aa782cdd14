// Helpers for the service and extension suites: a notify socket, bounded waits, exact packets,
// chatctl.
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
#include "tests/support/assertions.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/sockets.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

namespace chat::test::svc {

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
// Runs chatctl --socket SOCKET ARGS... (see run_process).
RunResult chatctl(const std::string& chatctl_path, const std::string& socket,
                  const std::vector<std::string>& args);

}  // namespace chat::test::svc
