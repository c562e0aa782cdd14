// libsystemd calls behind small functions so the rest of chatd stays testable.
#include "daemon/systemd.hpp"

#include <systemd/sd-daemon.h>

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
void send(const std::string& state) {
  sd_notify(0, state.c_str());
}
}  // namespace

void notify_ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status) + "\nMAINPID=" + std::to_string(::getpid()));
}
void notify_status(std::string_view status) {
  send("STATUS=" + std::string(status));
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
