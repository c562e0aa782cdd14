// The one launcher of the real chatd in the tests, started the systemd way: a
// listener on 127.0.0.1:0 inherited as fd 3 (LISTEN_FDS), READY=1 awaited on a
// private NOTIFY_SOCKET, either event loop, extra arguments and sockets, the
// control socket off unless asked for, stdout and stderr captured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/support/patience.hpp"

namespace chat::test {

struct ChatdConfig {
  std::string binary;  // path of the chatd executable
  // Options after the ones below; "@DIR@" in them is replaced by dir() (e.g.
  // "--control-socket=@DIR@/ctl" with disable_control_socket = false).
  std::vector<std::string> args;
  std::string event_loop;              // --event-loop=...; empty: leave the default
  bool disable_control_socket = true;  // pass --control-socket= (empty disables)
  // The TCP listener handed over as fd 3, owned by the test (it outlives chatd, e.g.
  // for a crash and a restart on the same socket, as socket activation does); -1:
  // ChatdProcess binds 127.0.0.1:0 itself.
  int listen_fd = -1;
  // Name of the inherited TCP socket (LISTEN_FDNAMES); systemd units name it "chat".
  std::string listen_fd_name = "chat";
  // Extra environment for chatd, "NAME=value" (e.g. WATCHDOG_USEC=400000).
  std::vector<std::string> env;
  // More inherited sockets, owned by the test (they outlive chatd, e.g. for a
  // restart on the same socket), passed as fd 4, 5, ... with these names.
  std::vector<std::pair<int, std::string>> extra_fds;
};

class ChatdProcess {
 public:
  // Binds 127.0.0.1:0, forks, hands the listener over as fd 3 with LISTEN_FDS=1,
  // and waits (bounded) for READY=1 on a private NOTIFY_SOCKET. On failure returns
  // nullptr and explains why in `error` (including chatd's stderr); if chatd
  // exited before READY=1, `exit_status` (if given) gets its raw wait status.
  static std::unique_ptr<ChatdProcess> start(const ChatdConfig& config, std::string& error,
                                             std::chrono::milliseconds ready_timeout = kPatience,
                                             std::optional<int>* exit_status = nullptr);
  ~ChatdProcess();
  ChatdProcess(const ChatdProcess&) = delete;
  ChatdProcess& operator=(const ChatdProcess&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // A private temporary directory (removed at destruction) for sockets and files.
  const std::string& dir() const { return dir_; }
  // Everything chatd wrote to stderr (and stdout) so far.
  std::string log() const;
  // Every datagram received on NOTIFY_SOCKET so far (READY=1, STATUS=..., STOPPING=1).
  std::vector<std::string> notifications();
  // Waits (bounded) for a notification datagram containing `line` as one of its lines.
  bool wait_notification(const std::string& line, std::chrono::milliseconds timeout = kPatience);

  // Sends `sig`; false if the process is already reaped.
  bool signal(int sig);
  // Waits for the process to exit; the raw wait status, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kPatience);
  // SIGTERM then wait_exit; on timeout SIGKILLs and returns nullopt.
  std::optional<int> terminate(std::chrono::milliseconds timeout = kPatience);
  bool exited() const { return pid_ < 0; }
  // "exit 0", "killed by signal 11", ... for a wait status.
  static std::string describe_status(int status);

 private:
  ChatdProcess() = default;
  void drain_notifications();

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string dir_;
  std::string log_path_;
  std::string notify_path_;
  UniqueFd notify_fd_;
  std::vector<std::string> notifications_;
  std::optional<int> status_;
};

}  // namespace chat::test
