// Helpers for the ctl tests: a poll() EventLoop, and framed reads that run an
// in-process server between them.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "common/unique_fd.hpp"
#include "daemon/event_loop.hpp"
#include "protocol/frame.hpp"
#include "tests/support/patience.hpp"
#include "tests/support/sockets.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

namespace chat::test {

// The EventLoop interface over poll(), so ControlServer can be tested on its own.
class PollLoop final : public daemon::EventLoop {
 public:
  bool add(int fd, unsigned interest, Handler handler) override {
    entries_[fd] = Entry{interest, std::make_shared<Handler>(std::move(handler))};
    return true;
  }
  bool modify(int fd, unsigned interest) override {
    const auto it = entries_.find(fd);
    if (it == entries_.end()) {
      return false;
    }
    it->second.interest = interest;
    return true;
  }
  void remove(int fd) override { entries_.erase(fd); }
  bool wait(std::chrono::milliseconds timeout) override {
    std::vector<pollfd> fds;
    for (const auto& [fd, e] : entries_) {
      short events = 0;
      if ((e.interest & daemon::kRead) != 0) {
        events |= POLLIN;
      }
      if ((e.interest & daemon::kWrite) != 0) {
        events |= POLLOUT;
      }
      fds.push_back(pollfd{fd, events, 0});
    }
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    mark_woke();
    if (rc < 0) {
      return errno == EINTR;
    }
    for (const auto& p : fds) {
      if (p.revents == 0) {
        continue;
      }
      const auto it = entries_.find(p.fd);
      if (it == entries_.end()) {
        continue;  // removed by an earlier handler in this round
      }
      unsigned ready = 0;
      if ((p.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
        ready |= daemon::kRead;
      }
      if ((p.revents & POLLOUT) != 0) {
        ready |= daemon::kWrite;
      }
      // Keep the handler alive even if it removes its own fd.
      const auto handler = it->second.handler;
      (*handler)(ready);
    }
    return true;
  }
  std::string_view name() const override { return "poll(test)"; }
  int fd_limit() const override { return 1 << 20; }
  bool watching(int fd) const { return entries_.count(fd) != 0; }

 private:
  struct Entry {
    unsigned interest;
    std::shared_ptr<Handler> handler;
  };
  std::map<int, Entry> entries_;
};

// Reads one frame from `fd`, calling `pump` (e.g. the server's loop) between
// reads; nullopt on EOF or when kPatience passes.
inline std::optional<std::string> read_frame(int fd, proto::FrameDecoder& decoder,
                                             const std::function<void()>& pump = {}) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    std::string_view payload;
    if (decoder.next(payload) == proto::FrameDecoder::Status::kFrame) {
      return std::string(payload);
    }
    if (pump) {
      pump();
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, pump ? 0 : 100) <= 0) {
      continue;
    }
    char buf[65536];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      return std::nullopt;
    }
    decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return std::nullopt;
}

// True once `fd` reports EOF (the peer closed), pumping meanwhile.
inline bool wait_for_eof(int fd, const std::function<void()>& pump = {}) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    if (pump) {
      pump();
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, pump ? 0 : 100) <= 0) {
      continue;
    }
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      return true;
    }
  }
  return false;
}

}  // namespace chat::test
