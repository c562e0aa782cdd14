// systemd integration: inherited sockets (LISTEN_FDS) and sd_notify state reports.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::daemon::systemd {

struct InheritedSockets {
  std::vector<UniqueFd> chat;        // named "chat", or unnamed
  std::vector<UniqueFd> tls;         // named "chat-tls" (chatd-tls.socket)
  std::vector<UniqueFd> ctl;         // named "ctl"
  std::vector<std::string> ignored;  // names of sockets we did not recognise
};

// Takes the sockets passed by systemd (and unsets LISTEN_* so children don't
// inherit them). Empty when not socket-activated.
InheritedSockets take_listen_fds();

// Each is a no-op outside systemd (no NOTIFY_SOCKET).
void notify_ready(std::string_view status);
// Never waits: false if the service manager's queue was full and nothing was
// sent (send the then-current status again later).
bool notify_status(std::string_view status);
void notify_reloading();
void notify_stopping();
void notify_watchdog();
// Half the watchdog timeout when the service manager expects pings.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace chat::daemon::systemd
