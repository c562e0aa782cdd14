// TCP listening sockets chatd binds itself when systemd did not pass any.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace chat::daemon {

// Binds `address` (empty: every IPv6 and IPv4 address through one dual-stack
// socket, or IPv4 only where IPv6 is missing) on `port`. On failure returns no
// sockets and sets `error`.
std::vector<UniqueFd> bind_listeners(const std::string& address, std::uint16_t port,
                                     std::string& error);

// Prepares an inherited or bound listener for the loop (non-blocking).
bool prepare_listener(int fd, std::string& error);

}  // namespace chat::daemon
