// Session I/O: non-blocking reads into the decoder, writev of queued shared frames.
#include "daemon/session.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>

namespace chat::daemon {
namespace {
constexpr std::size_t kMaxIov = 128;
}

Session::Session(SessionId id, UniqueFd fd, std::string peer)
    : id_(id), fd_(std::move(fd)), peer_(std::move(peer)) {}

void Session::enqueue(const Frame& frame) {
  queued_bytes_ += frame->size();
  out_.push_back(frame);
  ++messages_out;
}

void Session::drop_output() {
  out_.clear();
  out_offset_ = 0;
  queued_bytes_ = 0;
}

Session::IoResult Session::flush() {
  while (!out_.empty()) {
    std::array<iovec, kMaxIov> iov{};
    std::size_t n = 0;
    for (auto it = out_.begin(); it != out_.end() && n < kMaxIov; ++it, ++n) {
      const std::string& f = **it;
      const std::size_t skip = (n == 0) ? out_offset_ : 0;
      iov[n].iov_base = const_cast<char*>(f.data() + skip);  // writev does not write to it
      iov[n].iov_len = f.size() - skip;
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return (errno == EAGAIN || errno == EWOULDBLOCK) ? IoResult::kWouldBlock : IoResult::kError;
    }
    auto left = static_cast<std::size_t>(w);
    bytes_out += left;
    queued_bytes_ -= left;
    while (left > 0) {
      const std::size_t rest = out_.front()->size() - out_offset_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        out_offset_ = 0;
      } else {
        out_offset_ += left;
        left = 0;
      }
    }
    if (n == kMaxIov) {
      continue;  // more queued than one call covers
    }
    if (!out_.empty()) {
      return IoResult::kWouldBlock;  // short write: the socket buffer is full
    }
  }
  return IoResult::kOk;
}

Session::IoResult Session::read_some(std::size_t max_bytes) {
  std::size_t total = 0;
  while (total < max_bytes) {
    const std::size_t chunk = std::min<std::size_t>(65536, max_bytes - total);
    char* buf = input_.prepare(chunk);
    const ssize_t r = ::recv(fd_.get(), buf, chunk, MSG_DONTWAIT);
    if (r < 0) {
      input_.commit(0);
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return IoResult::kWouldBlock;
      }
      return IoResult::kError;
    }
    input_.commit(static_cast<std::size_t>(r));
    if (r == 0) {
      return IoResult::kEof;
    }
    bytes_in += static_cast<std::size_t>(r);
    total += static_cast<std::size_t>(r);
    if (static_cast<std::size_t>(r) < chunk) {
      return IoResult::kWouldBlock;  // drained what the kernel had
    }
  }
  return IoResult::kOk;
}

Session::IoResult Session::discard_input() {
  std::array<char, 4096> buf{};
  for (int i = 0; i < 16; ++i) {
    const ssize_t r = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (r == 0) {
      return IoResult::kEof;
    }
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return (errno == EAGAIN || errno == EWOULDBLOCK) ? IoResult::kWouldBlock : IoResult::kError;
    }
  }
  return IoResult::kOk;
}

}  // namespace chat::daemon
