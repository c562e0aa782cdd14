// Child processes with pipes, for the interop and command-line tests.
#include "tests/integration/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace chat::test {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

std::string temp_file_path() {
  char path[] = "/tmp/chat-test-stderr-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd >= 0) {
    ::close(fd);
  }
  return path;
}

std::optional<int> wait_bounded(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return status;
    }
    if (r < 0 && errno != EINTR) {
      return std::nullopt;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    // Bounded polling of a child's exit.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::unique_ptr<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv,
                                              std::string& error) {
  std::unique_ptr<Subprocess> p(new Subprocess());
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  UniqueFd child_in(in_pipe[0]);
  UniqueFd child_out(out_pipe[1]);
  p->stdin_.reset(in_pipe[1]);
  p->stdout_.reset(out_pipe[0]);
  ::fcntl(p->stdout_.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(p->stdin_.get(), F_SETFL, O_NONBLOCK);
  p->stderr_path_ = temp_file_path();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_in.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, p->stderr_path_.c_str(), O_WRONLY | O_TRUNC, 0600);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  const int rc = ::posix_spawnp(&p->pid_, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    p->pid_ = -1;
    error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return nullptr;
  }
  return p;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!stderr_path_.empty()) {
    ::unlink(stderr_path_.c_str());
  }
}

bool Subprocess::write_stdin(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::write(stdin_.get(), bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
    pollfd pfd{stdin_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, ms_left(deadline)) <= 0 && Clock::now() >= deadline) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> Subprocess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto nl = out_.find('\n');
    if (nl != std::string::npos) {
      std::string line = out_.substr(0, nl);
      out_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      return line;
    }
    if (eof_) {
      return std::nullopt;
    }
    pollfd pfd{stdout_.get(), POLLIN, 0};
    const int r = ::poll(&pfd, 1, ms_left(deadline));
    if (r > 0) {
      char buf[4096];
      const ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
      if (n > 0) {
        out_.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof_ = true;
      }
      continue;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
  }
}

bool Subprocess::wait_for_line(const std::string& line, std::vector<std::string>& seen,
                               std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto l = read_line(std::chrono::milliseconds(ms_left(deadline)));
    if (!l) {
      return false;
    }
    seen.push_back(*l);
    if (*l == line) {
      return true;
    }
  }
}

std::string Subprocess::stderr_text() const {
  return read_file(stderr_path_);
}

std::optional<int> Subprocess::wait_exit(std::chrono::milliseconds timeout) {
  if (!status_ && pid_ > 0) {
    status_ = wait_bounded(pid_, Clock::now() + timeout);
  }
  return status_;
}

void Subprocess::kill(int sig) {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, sig);
  }
}

std::optional<int> run_process(const std::vector<std::string>& argv, std::string& output,
                               std::chrono::milliseconds timeout) {
  const std::string out_path = temp_file_path();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
  // A clean environment for socket activation: these tests pass no sockets.
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LISTEN_", 7) != 0 && std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) {
      envp.push_back(*e);
    }
  }
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    output = "cannot start " + argv[0] + ": " + std::strerror(rc);
    ::unlink(out_path.c_str());
    return std::nullopt;
  }
  auto status = wait_bounded(pid, Clock::now() + timeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    int s = 0;
    ::waitpid(pid, &s, 0);
  }
  output = read_file(out_path);
  ::unlink(out_path.c_str());
  return status;
}

}  // namespace chat::test
