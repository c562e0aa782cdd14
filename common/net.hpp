// Socket helpers: non-blocking mode, peer names, sun_path checks, peer credentials.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace chat::net {

bool set_nonblocking(int fd);
bool set_cloexec(int fd);
// "127.0.0.1:5000", "[::1]:5000"; IPv4-mapped IPv6 addresses print as IPv4.
std::string format_address(const sockaddr* addr, socklen_t len);
std::string peer_name(int fd);
std::string local_name(int fd);

// Longest path a sockaddr_un can hold, without the terminating NUL (107 on Linux).
std::size_t max_unix_path();
// Fills `addr` for `path`; false if the path is empty or too long.
bool make_unix_address(std::string_view path, sockaddr_un& addr);

struct PeerCred {
  pid_t pid;
  uid_t uid;
  gid_t gid;
};
std::optional<PeerCred> peer_credentials(int fd);

// A connected TCP socket to host:port (names resolved), blocking; empty fd and
// `error` set on failure.
UniqueFd connect_tcp(const std::string& host, const std::string& port, std::string& error);

}  // namespace chat::net
