// Sockets a test binds or connects itself: listeners handed to chatd as systemd
// would, and Unix stream connections (to the control socket).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace chat::test {

// Fills `ss` for an IPv4 or IPv6 literal and `port`; false if it is neither.
bool make_inet_address(const std::string& address, std::uint16_t port, sockaddr_storage& ss,
                       socklen_t& len);

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

// A blocking Unix stream connection to `path`; empty on failure.
UniqueFd connect_unix(const std::string& path);
// Writes all of `bytes` to a blocking socket; false on error.
bool send_all(int fd, std::string_view bytes);

}  // namespace chat::test
