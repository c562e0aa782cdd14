// Test-side sockets: listeners, Unix connections.
#include "tests/support/sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "common/net.hpp"

namespace chat::test {

bool make_inet_address(const std::string& address, std::uint16_t port, sockaddr_storage& ss,
                       socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

Listener listen_tcp(const std::string& address) {
  Listener l;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_inet_address(address, 0, ss, len)) {
    return l;
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return l;
  }
  if (ss.ss_family == AF_INET6) {
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(fd.get(), 1024) != 0) {
    return l;
  }
  len = sizeof ss;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return l;
  }
  l.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  l.fd = std::move(fd);
  return l;
}

UniqueFd listen_unix(const std::string& path) {
  sockaddr_un un{};
  if (!net::make_unix_address(path, un)) {
    return {};
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    return {};
  }
  return fd;
}

std::uint16_t free_port() {
  Listener l = listen_tcp("127.0.0.1");
  return l.port;  // closed on return; nothing was accepted, so no TIME_WAIT holds it
}

UniqueFd connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (!net::make_unix_address(path, addr)) {
    return UniqueFd{};
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return UniqueFd{};
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace chat::test
