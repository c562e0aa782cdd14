// Session I/O: non-blocking reads into the decoder, one send() of gathered queued frames.
#include "daemon/session.hpp"

#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace chat::daemon {
namespace {
constexpr std::size_t kSendChunk = std::size_t{256} * 1024;
constexpr std::size_t kRecvChunk = std::size_t{64} * 1024;
// One TLS record's worth of plaintext per SSL_write: OpenSSL would cut a larger
// write into 16 KiB records anyway, and a retry after WANT_WRITE must pass at
// least as many bytes, which a fixed bound keeps true as the queue grows.
constexpr std::size_t kTlsChunk = std::size_t{16} * 1024;
}  // namespace

Session::Session(SessionId id, UniqueFd fd, std::string peer)
    : id_(id), fd_(std::move(fd)), peer_(std::move(peer)) {}

bool Session::enqueue(const Frame& frame, std::chrono::steady_clock::time_point now) {
  if (frame.size() < proto::kMinFrame || frame.size() > proto::kMaxFrame) {
    return false;
  }
  if (out_.empty()) {
    progress_ = now;
  }
  queued_bytes_ += frame.size();
  out_.push_back(frame);
  ++messages_out;
  return true;
}

bool Session::start_closing(std::chrono::steady_clock::time_point deadline) {
  if (state_ != State::kOpen) {
    return false;
  }
  state_ = State::kClosing;
  deadline_ = deadline;
  return true;
}

void Session::start_draining() {
  if (state_ == State::kClosing) {
    if (ssl_ && SSL_is_init_finished(ssl_.get()) == 1) {
      // close_notify, best effort: the output queue is empty, so the socket has
      // room for it; the peer's answer is not awaited (drained raw below).
      ERR_clear_error();
      (void)SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
    ::shutdown(fd_.get(), SHUT_WR);
    state_ = State::kDraining;
  }
}

bool Session::kill() {
  if (state_ == State::kDead) {
    return false;
  }
  state_ = State::kDead;
  return true;
}

void Session::drop_output() {
  out_.clear();
  out_offset_ = 0;
  queued_bytes_ = 0;
}

Session::IoResult Session::flush(std::chrono::steady_clock::time_point now) {
  if (ssl_) {
    return flush_tls(now);
  }
  // Frames are small (a chat is ~100 bytes) and the kernel's per-iovec cost in
  // tcp_sendmsg is far above a memcpy of one, so queued frames are copied into one
  // buffer and sent with one send() (measured in docs/BENCHMARKS.md: a third of
  // the CPU per delivery). Single-threaded, so one static buffer serves everyone.
  static std::array<char, kSendChunk> scratch;
  while (!out_.empty()) {
    const char* data = nullptr;
    std::size_t n = 0;
    if (out_.size() == 1 || out_.front().size() - out_offset_ >= kSendChunk / 2) {
      data = out_.front().data() + out_offset_;  // nothing to gather: send it in place
      n = out_.front().size() - out_offset_;
    } else {
      for (auto it = out_.begin(); it != out_.end(); ++it) {
        const std::size_t skip = (it == out_.begin()) ? out_offset_ : 0;
        const std::size_t len = it->size() - skip;
        if (n + len > scratch.size()) {
          break;  // the first frame always fits: it is under half the buffer here
        }
        std::memcpy(scratch.data() + n, it->data() + skip, len);
        n += len;
      }
      data = scratch.data();
    }
    const ssize_t w = ::send(fd_.get(), data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return (errno == EAGAIN || errno == EWOULDBLOCK) ? IoResult::kWouldBlock : IoResult::kError;
    }
    auto left = static_cast<std::size_t>(w);
    if (left > 0) {
      progress_ = now;
    }
    bytes_out += left;
    queued_bytes_ -= left;
    while (left > 0) {
      const std::size_t rest = out_.front().size() - out_offset_;
      if (left >= rest) {
        left -= rest;
        out_.pop_front();
        out_offset_ = 0;
      } else {
        out_offset_ += left;
        left = 0;
      }
    }
    if (static_cast<std::size_t>(w) < n) {
      return IoResult::kWouldBlock;  // short write: the socket buffer is full
    }
  }
  return IoResult::kOk;
}

Session::IoResult Session::read_some(std::size_t max_bytes) {
  if (ssl_) {
    return read_tls(max_bytes);
  }
  // recv into one shared buffer and keep only what arrived: reading straight into
  // each session's decoder left every idle session holding 64 KiB.
  static std::array<char, kRecvChunk> scratch;
  std::size_t total = 0;
  while (total < max_bytes) {
    const std::size_t chunk = std::min<std::size_t>(scratch.size(), max_bytes - total);
    const ssize_t r = ::recv(fd_.get(), scratch.data(), chunk, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return IoResult::kWouldBlock;
      }
      return IoResult::kError;
    }
    if (r == 0) {
      return IoResult::kEof;
    }
    input_.feed(std::string_view(scratch.data(), static_cast<std::size_t>(r)));
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
  if (ssl_ && state_ == State::kClosing) {
    // Still writing through OpenSSL, which may need the peer's records (a key
    // update): decrypt and drop. After close_notify (kDraining) raw reads do.
    for (int i = 0; i < 16; ++i) {
      ERR_clear_error();
      const int r = SSL_read(ssl_.get(), buf.data(), static_cast<int>(buf.size()));
      if (r <= 0) {
        const auto result = tls_failure(r, true);
        return result == IoResult::kOk ? IoResult::kWouldBlock : result;
      }
    }
    return IoResult::kOk;
  }
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

bool Session::start_tls(SSL_CTX* ctx) {
  ERR_clear_error();
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd_.get()) != 1) {
    tls_error_ = tls_error_text();
    return false;
  }
  SSL_set_accept_state(ssl.get());
  ssl_ = std::move(ssl);
  return true;
}

bool Session::tls_handshaking() const {
  return ssl_ && SSL_is_init_finished(ssl_.get()) != 1;
}

bool Session::tls_pending() const {
  return ssl_ && SSL_pending(ssl_.get()) > 0;
}

Session::IoResult Session::tls_failure(int ret, bool reading) {
  const int err = SSL_get_error(ssl_.get(), ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      (reading ? read_wants_write_ : write_wants_read_) = !reading;
      return IoResult::kWouldBlock;
    case SSL_ERROR_WANT_WRITE:
      (reading ? read_wants_write_ : write_wants_read_) = reading;
      return IoResult::kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return IoResult::kEof;  // close_notify, or a bare EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
    case SSL_ERROR_SYSCALL:
      tls_error_ = errno != 0 ? std::strerror(errno) : "connection closed";  // NOLINT
      ERR_clear_error();
      return IoResult::kError;
    default:
      tls_error_ = tls_error_text();
      return IoResult::kError;
  }
}

void Session::consume(std::size_t n, std::chrono::steady_clock::time_point now) {
  if (n > 0) {
    progress_ = now;
  }
  bytes_out += n;
  queued_bytes_ -= n;
  while (n > 0) {
    const std::size_t rest = out_.front().size() - out_offset_;
    if (n >= rest) {
      n -= rest;
      out_.pop_front();
      out_offset_ = 0;
    } else {
      out_offset_ += n;
      n = 0;
    }
  }
}

Session::IoResult Session::flush_tls(std::chrono::steady_clock::time_point now) {
  // SSL has no writev: queued frames (each encoded once for every recipient) are
  // copied into one record's worth and encrypted for this session in one call.
  static std::array<char, kTlsChunk> scratch;
  while (!out_.empty()) {
    std::size_t n = 0;
    for (auto it = out_.begin(); it != out_.end() && n < scratch.size(); ++it) {
      const std::size_t skip = (it == out_.begin()) ? out_offset_ : 0;
      const std::size_t len = std::min(it->size() - skip, scratch.size() - n);
      std::memcpy(scratch.data() + n, it->data() + skip, len);
      n += len;
    }
    ERR_clear_error();
    const int w = SSL_write(ssl_.get(), scratch.data(), static_cast<int>(n));
    if (w <= 0) {
      return tls_failure(w, false);
    }
    write_wants_read_ = false;
    consume(static_cast<std::size_t>(w), now);
  }
  return IoResult::kOk;
}

Session::IoResult Session::read_tls(std::size_t max_bytes) {
  static std::array<char, kTlsChunk> scratch;
  std::size_t total = 0;
  while (total < max_bytes) {
    const std::size_t chunk = std::min<std::size_t>(scratch.size(), max_bytes - total);
    ERR_clear_error();
    const int r = SSL_read(ssl_.get(), scratch.data(), static_cast<int>(chunk));
    if (r <= 0) {
      return tls_failure(r, true);
    }
    read_wants_write_ = false;
    input_.feed(std::string_view(scratch.data(), static_cast<std::size_t>(r)));
    bytes_in += static_cast<std::size_t>(r);
    total += static_cast<std::size_t>(r);
  }
  return IoResult::kOk;  // more may wait, in the socket or inside OpenSSL (tls_pending)
}

}  // namespace chat::daemon
