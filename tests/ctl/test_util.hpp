// Helpers for the ctl tests: temp dirs, a poll() EventLoop, framed I/O, child processes.
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

namespace chat::testing {

using Clock = std::chrono::steady_clock;
inline constexpr auto kWait = std::chrono::seconds(10);

// A short directory under /tmp (socket paths must stay under 108 bytes),
// removed with its contents at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/chatctl-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

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

inline UniqueFd connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (!net::make_unix_address(path, addr)) {
    return UniqueFd{};
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return UniqueFd{};
  }
  return fd;
}

inline bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads one frame from `fd`, calling `pump` (e.g. the server's loop) between
// reads; nullopt on EOF or when kWait passes.
inline std::optional<std::string> read_frame(int fd, proto::FrameDecoder& decoder,
                                             const std::function<void()>& pump = {}) {
  const auto deadline = Clock::now() + kWait;
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
  const auto deadline = Clock::now() + kWait;
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

struct RunResult {
  int exit_code = -1;  // -1: did not finish within kWait (then killed)
  std::string out;
  std::string err;
};

// Runs argv[0] with arguments, capturing stdout and stderr; `pump` is called
// while waiting so an in-process server can answer.
inline RunResult run_process(const std::vector<std::string>& argv,
                             const std::function<void()>& pump = {}) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  UniqueFd out_fd(out_pipe[0]);
  UniqueFd err_fd(err_pipe[0]);
  RunResult result;
  const auto deadline = Clock::now() + kWait;
  bool out_open = true;
  bool err_open = true;
  int status = 0;
  bool exited = false;
  while (Clock::now() < deadline && (out_open || err_open || !exited)) {
    if (pump) {
      pump();
    }
    pollfd p[2] = {{out_open ? out_fd.get() : -1, POLLIN, 0},
                   {err_open ? err_fd.get() : -1, POLLIN, 0}};
    ::poll(p, 2, pump ? 5 : 50);
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) {
        continue;
      }
      const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    }
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace chat::testing
