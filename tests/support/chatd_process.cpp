// Starting, watching and stopping the real chatd with systemd-style socket activation.
#include "tests/support/chatd_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/subprocess.hpp"

extern char** environ;

namespace chat::test {
namespace {

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Writes the decimal form of `value` into `out` (no allocation: used after fork()).
void format_decimal(long value, char* out, std::size_t size) {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && n < sizeof tmp);
  std::size_t i = 0;
  while (n > 0 && i + 1 < size) {
    out[i++] = tmp[--n];
  }
  out[i] = '\0';
}

bool starts_with_any(const char* entry, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    if (std::strncmp(entry, p, std::strlen(p)) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<ChatdProcess> ChatdProcess::start(const ChatdConfig& config, std::string& error,
                                                  std::chrono::milliseconds ready_timeout,
                                                  std::optional<int>* exit_status) {
  std::unique_ptr<ChatdProcess> p(new ChatdProcess());
  char dir_template[] = "/tmp/chatd-test-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    error = errno_text("mkdtemp");
    return nullptr;
  }
  p->dir_ = dir_template;
  p->log_path_ = p->dir_ + "/chatd.stderr";
  p->notify_path_ = p->dir_ + "/notify";

  // The listening socket, created here like systemd would, on an ephemeral port
  // (or the test's own).
  UniqueFd own_listener;
  if (config.listen_fd < 0) {
    own_listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!own_listener) {
      error = errno_text("socket");
      return nullptr;
    }
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    any.sin_port = 0;
    if (::bind(own_listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
        ::listen(own_listener.get(), 1024) != 0) {
      error = errno_text("bind/listen 127.0.0.1:0");
      return nullptr;
    }
  }
  const int listener = config.listen_fd >= 0 ? config.listen_fd : own_listener.get();
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    error = errno_text("getsockname");
    return nullptr;
  }
  p->port_ = ntohs(addr.sin_port);

  p->notify_fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (!p->notify_fd_ || p->notify_path_.size() >= sizeof un.sun_path) {
    error = "cannot create the notify socket";
    return nullptr;
  }
  std::memcpy(un.sun_path, p->notify_path_.c_str(), p->notify_path_.size() + 1);
  if (::bind(p->notify_fd_.get(), reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
    error = errno_text("bind notify socket");
    return nullptr;
  }

  UniqueFd log_fd(::open(p->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!log_fd || !null_fd) {
    error = errno_text("open log or /dev/null");
    return nullptr;
  }

  // Everything the child needs is built before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> args{config.binary};
  if (config.disable_control_socket) {
    args.emplace_back("--control-socket=");
  }
  if (!config.event_loop.empty()) {
    args.push_back("--event-loop=" + config.event_loop);
  }
  for (std::string a : config.args) {
    for (auto at = a.find("@DIR@"); at != std::string::npos; at = a.find("@DIR@", at)) {
      a.replace(at, 5, p->dir_);
      at += p->dir_.size();
    }
    args.push_back(std::move(a));
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  std::string fd_names = config.listen_fd_name;
  for (const auto& extra : config.extra_fds) {
    fd_names += ":" + extra.second;
  }
  std::vector<std::string> env_strings{"LISTEN_FDS=" + std::to_string(1 + config.extra_fds.size()),
                                       "LISTEN_FDNAMES=" + fd_names,
                                       "NOTIFY_SOCKET=" + p->notify_path_};
  env_strings.insert(env_strings.end(), config.env.begin(), config.env.end());
  // Where each extra fd waits in the child (above 3 + their count) before its dup2.
  std::vector<int> extra_high(config.extra_fds.size(), -1);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!starts_with_any(*e, {"LISTEN_", "NOTIFY_SOCKET=", "WATCHDOG_"})) {
      envp.push_back(*e);
    }
  }
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  char listen_pid[32] = "LISTEN_PID=";
  envp.push_back(listen_pid);
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    error = errno_text("fork");
    return nullptr;
  }
  if (pid == 0) {
    // Child: fd 0 /dev/null, 1 and 2 the log, 3 the listener, 4.. the extra
    // sockets; nothing else open.
    format_decimal(::getpid(), listen_pid + std::strlen(listen_pid), sizeof listen_pid - 12);
    const int first_free = 4 + static_cast<int>(extra_high.size());
    for (std::size_t i = 0; i < extra_high.size(); ++i) {
      extra_high[i] = ::fcntl(config.extra_fds[i].first, F_DUPFD_CLOEXEC, first_free + 64);
      if (extra_high[i] < 0) {
        ::_exit(126);
      }
    }
    int lfd = listener;
    if (lfd < first_free) {
      lfd = ::fcntl(lfd, F_DUPFD_CLOEXEC, first_free + 64);
    }
    if (lfd < 0 || ::dup2(null_fd.get(), 0) < 0 || ::dup2(log_fd.get(), 1) < 0 ||
        ::dup2(log_fd.get(), 2) < 0 || ::dup2(lfd, 3) < 0) {
      ::_exit(126);
    }
    for (std::size_t i = 0; i < extra_high.size(); ++i) {
      if (::dup2(extra_high[i], 4 + static_cast<int>(i)) < 0) {
        ::_exit(126);
      }
    }
    ::syscall(SYS_close_range, static_cast<unsigned>(first_free), ~0U, 0U);
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  p->pid_ = pid;

  // Wait for READY=1, or for the child to die first.
  const auto deadline = Clock::now() + ready_timeout;
  while (true) {
    p->drain_notifications();
    for (const auto& n : p->notifications_) {
      std::istringstream lines(n);
      for (std::string line; std::getline(lines, line);) {
        if (line == "READY=1") {
          return p;
        }
      }
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      p->status_ = status;
      if (exit_status != nullptr) {
        *exit_status = status;
      }
      error =
          "chatd exited before READY=1 (" + describe_status(status) + "); its output:\n" + p->log();
      return nullptr;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      error = "chatd sent no READY=1 within the deadline; its output:\n" + p->log();
      return nullptr;  // the destructor kills it
    }
    pollfd pfd{p->notify_fd_.get(), POLLIN, 0};
    // Short slices so that an early exit is noticed too.
    ::poll(&pfd, 1, 50);
  }
}

ChatdProcess::~ChatdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string ChatdProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void ChatdProcess::drain_notifications() {
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(notify_fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      return;
    }
    notifications_.emplace_back(buf, static_cast<std::size_t>(n));
  }
}

std::vector<std::string> ChatdProcess::notifications() {
  drain_notifications();
  return notifications_;
}

bool ChatdProcess::wait_notification(const std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t seen = 0;
  while (true) {
    drain_notifications();
    for (; seen < notifications_.size(); ++seen) {
      std::istringstream lines(notifications_[seen]);
      for (std::string l; std::getline(lines, l);) {
        if (l == line) {
          return true;
        }
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return false;
    }
    pollfd pfd{notify_fd_.get(), POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
}

bool ChatdProcess::signal(int sig) {
  return pid_ > 0 && ::kill(pid_, sig) == 0;
}

std::optional<int> ChatdProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) {
    return status_;
  }
  if (pid_ <= 0) {
    return std::nullopt;
  }
  // Reading its notifications meanwhile, as PID 1 would: chatd's STOPPING=1 waits
  // while the notify socket's queue is full (net.unix.max_dgram_qlen, 10 here).
  const auto deadline = Clock::now() + timeout;
  std::optional<int> status;
  do {
    drain_notifications();
    status = wait_child(pid_, std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
  } while (!status && Clock::now() < deadline);
  if (status) {
    pid_ = -1;
    status_ = status;
  }
  return status;
}

std::optional<int> ChatdProcess::terminate(std::chrono::milliseconds timeout) {
  if (status_) {
    return status_;
  }
  signal(SIGTERM);
  auto status = wait_exit(timeout);
  if (!status && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int s = 0;
    ::waitpid(pid_, &s, 0);
    pid_ = -1;
  }
  return status;
}

std::string ChatdProcess::describe_status(int status) {
  if (WIFEXITED(status)) {
    return "exit " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return "wait status " + std::to_string(status);
}

}  // namespace chat::test
