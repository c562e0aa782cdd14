// The control client: non-blocking AF_UNIX connect, send, receive, all under poll() deadlines.
#include "ctl/exchange.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/net.hpp"
#include "common/unique_fd.hpp"
#include "ctl/exit_codes.hpp"
#include "protocol/frame.hpp"

namespace chat::ctl {
namespace {

using Clock = std::chrono::steady_clock;

ExchangeResult failure(int code, std::string message) {
  return ExchangeResult{code, {}, std::move(message)};
}

std::string timeout_text(const std::string& path, std::chrono::milliseconds timeout,
                         std::string_view what) {
  return fmt::format(
      "no answer from chatd on {} within {:g} s (while {}); the daemon may be stuck or "
      "overloaded: try again or raise --timeout",
      path, static_cast<double>(timeout.count()) / 1000.0, what);
}

// Waits for `events` on fd until `deadline`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) {
      return true;
    }
    if (rc < 0 && errno != EINTR) {
      return true;  // let the following syscall report the error
    }
  }
}

ExchangeResult connect_error(const std::string& path, int err) {
  const std::string base =
      "cannot connect to chatd's control socket " + path + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) {
    return failure(kExitNoPerm, base + " (run chatctl as root or as a member of the group " +
                                    "that owns the socket)");
  }
  return failure(kExitUnavailable,
                 base + " (is chatd running? start it with `systemctl start chatd.socket`, " +
                     "or give the right path with --socket)");
}

}  // namespace

ExchangeResult exchange(const std::string& socket_path, std::string_view request,
                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un addr{};
  if (!net::make_unix_address(socket_path, addr)) {
    return failure(kExitUsage, "socket path '" + socket_path + "' is empty or longer than " +
                                   std::to_string(net::max_unix_path()) + " bytes");
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return failure(kExitUnavailable,
                   std::string("cannot create a socket: ") + std::strerror(errno));
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err != EAGAIN && err != EINPROGRESS) {
      return connect_error(socket_path, err);
    }
    // The listen backlog is full: the daemon is not accepting (fast enough).
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return failure(kExitTimeout, timeout_text(socket_path, timeout, "connecting"));
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      return connect_error(socket_path, so_error);
    }
  }

  const auto made = proto::Frame::make(request);
  if (!made) {
    return failure(kExitUsage, "request too large for one frame");
  }
  const std::string_view frame = made->bytes();
  std::size_t sent = 0;
  int send_error = 0;
  while (sent < frame.size()) {
    const ssize_t n = ::send(fd.get(), frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) {
        return failure(kExitTimeout, timeout_text(socket_path, timeout, "sending"));
      }
      continue;
    }
    // chatd may have answered already and closed (it refuses a peer at
    // accept): read that answer rather than report the broken pipe.
    send_error = errno;
    break;
  }

  proto::FrameDecoder decoder;
  for (;;) {
    std::string_view payload;
    const auto status = decoder.next(payload);
    if (status == proto::FrameDecoder::Status::kFrame) {
      return ExchangeResult{kExitOk, std::string(payload), {}};
    }
    if (status == proto::FrameDecoder::Status::kEmptyFrame) {
      return failure(kExitProtocol, "chatd sent an empty frame on " + socket_path);
    }
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      return failure(kExitTimeout, timeout_text(socket_path, timeout, "waiting for the reply"));
    }
    constexpr std::size_t kChunk = std::size_t{16} * 1024;
    char* buf = decoder.prepare(kChunk);
    const ssize_t n = ::read(fd.get(), buf, kChunk);
    const int err = errno;
    decoder.commit(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (n == 0 && send_error != 0) {
      return failure(kExitUnavailable,
                     "chatd closed the control connection on " + socket_path +
                         " while the request was sent: " + std::strerror(send_error));
    }
    if (n == 0) {
      return failure(kExitUnavailable, "chatd closed the control connection on " + socket_path +
                                           " without answering");
    }
    if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
      return failure(kExitUnavailable, "cannot read from chatd's control socket " + socket_path +
                                           ": " + std::strerror(err));
    }
  }
}

}  // namespace chat::ctl
