// libsystemd calls behind small functions so the rest of chatd stays testable.
#include "daemon/systemd.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/net.hpp"

namespace chat::daemon::systemd {

InheritedSockets take_listen_fds() {
  InheritedSockets out;
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(1, &names);
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    net::set_cloexec(fd);
    const std::string name = (names != nullptr && names[i] != nullptr) ? names[i] : "unknown";
    if (name == "ctl") {
      out.ctl.emplace_back(fd);
    } else if (name == "chat-tls") {
      out.tls.emplace_back(fd);
    } else if (name == "chat" || name == "unknown" || name == "chatd.socket") {
      out.chat.emplace_back(fd);
    } else {
      out.ignored.push_back(name);
      ::close(fd);
    }
  }
  if (names != nullptr) {
    for (int i = 0; i < n; ++i) {
      std::free(names[i]);  // NOLINT(cppcoreguidelines-no-malloc): sd_listen_fds_with_names API
    }
    std::free(static_cast<void*>(names));  // NOLINT(cppcoreguidelines-no-malloc)
  }
  return out;
}

namespace {
// State changes the service manager must hear (READY, RELOADING, STOPPING, the
// watchdog): libsystemd's sd_notify, which waits if PID 1's queue is full.
void send(const std::string& state) {
  sd_notify(0, state.c_str());
}

// Advisory state (STATUS=): never waits. libsystemd 252 has no such call, and its
// sd_notify blocks the whole loop in sendmsg while the receiver's queue is full
// (net.unix.max_dgram_qlen datagrams, 10 here; seen in tests, whose harness reads
// notifications only when it asks, as chatd stopping for seconds). False when the
// queue was full: the caller sends the then-current status later. Like sd_notify,
// a socket per message, so chatd's descriptors are the same before and after.
bool send_advisory(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) {
    return true;  // not under systemd (or an address family chatd does not speak)
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) {
    return true;
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace
  }
  const UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return true;
  }
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  const ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&addr), size);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}
}  // namespace

void notify_ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status) + "\nMAINPID=" + std::to_string(::getpid()));
}
bool notify_status(std::string_view status) {
  return send_advisory("STATUS=" + std::string(status));
}

void notify_reloading() {
  // systemd >= 253 also wants MONOTONIC_USEC; 252 ignores it, so send it always.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}
void notify_stopping() {
  send("STOPPING=1");
}
void notify_watchdog() {
  send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(usec / 2);
  }
  return std::nullopt;
}

}  // namespace chat::daemon::systemd
