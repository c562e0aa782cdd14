// Binding and preparing TCP listeners.
#include "daemon/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/net.hpp"

namespace chat::daemon {
namespace {

UniqueFd bind_one(const sockaddr* addr, socklen_t len, bool v6only, std::string& error) {
  UniqueFd fd(::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = std::string("socket: ") + std::strerror(errno);
    return fd;
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->sa_family == AF_INET6) {
    const int v6 = v6only ? 1 : 0;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
  }
  if (::bind(fd.get(), addr, len) != 0) {
    error = "cannot bind " + net::format_address(addr, len) + ": " + std::strerror(errno);
    return UniqueFd{};
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) {
    error = "cannot listen on " + net::format_address(addr, len) + ": " + std::strerror(errno);
    return UniqueFd{};
  }
  return fd;
}

}  // namespace

std::vector<UniqueFd> bind_listeners(const std::string& address, std::uint16_t port,
                                     std::string& error) {
  std::vector<UniqueFd> out;
  if (address.empty()) {
    sockaddr_in6 any6{};
    any6.sin6_family = AF_INET6;
    any6.sin6_addr = in6addr_any;
    any6.sin6_port = htons(port);
    UniqueFd fd = bind_one(reinterpret_cast<sockaddr*>(&any6), sizeof any6, false, error);
    if (!fd && errno == EAFNOSUPPORT) {
      sockaddr_in any4{};
      any4.sin_family = AF_INET;
      any4.sin_addr.s_addr = htonl(INADDR_ANY);
      any4.sin_port = htons(port);
      fd = bind_one(reinterpret_cast<sockaddr*>(&any4), sizeof any4, false, error);
    }
    if (fd) {
      out.push_back(std::move(fd));
    }
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(address.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    error = "cannot resolve bind address " + address + ": " + ::gai_strerror(rc);
    return out;
  }
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd = bind_one(ai->ai_addr, ai->ai_addrlen, true, error);
    if (!fd) {
      out.clear();
      break;
    }
    out.push_back(std::move(fd));
  }
  ::freeaddrinfo(res);
  return out;
}

bool prepare_listener(int fd, std::string& error) {
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
    error = "inherited fd " + std::to_string(fd) + " is not a stream socket";
    return false;
  }
  int listening = 0;
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
    error = "inherited fd " + std::to_string(fd) + " is not listening";
    return false;
  }
  if (!net::set_nonblocking(fd)) {
    error = std::string("fcntl: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace chat::daemon
