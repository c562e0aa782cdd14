// Child processes with pipes, for the interop and command-line tests.
#include "tests/support/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace chat::test {
namespace {

std::string temp_file_path() {
  char path[] = "/tmp/chat-test-stderr-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd >= 0) {
    ::close(fd);
  }
  return path;
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
    status_ = wait_child(pid_, Clock::now() + timeout);
  }
  return status_;
}

void Subprocess::kill(int sig) {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, sig);
  }
}

std::optional<int> wait_child(pid_t pid, Clock::time_point deadline) {
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

std::string RunResult::describe() const {
  if (exit_code < 0) {
    return "did not finish within the deadline, or could not start: " + err;
  }
  if (exit_code > 128) {
    return "killed by signal " + std::to_string(exit_code - 128);
  }
  return "exit " + std::to_string(exit_code);
}

RunResult run_process(const std::vector<std::string>& argv, const std::function<void()>& pump,
                      std::chrono::milliseconds timeout) {
  RunResult result;
  if (argv.empty()) {
    result.err = "run_process: no program";
    return result;
  }
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) {
    cargv.push_back(a.data());
  }
  cargv.push_back(nullptr);
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
    result.err = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  out_write.reset();
  err_write.reset();

  // Reads what each pipe has now; closes a pipe at EOF.
  const auto drain = [&] {
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out_read : err_read;
      while (fd) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n > 0) {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          fd.reset();
        } else {
          break;
        }
      }
    }
  };
  const auto deadline = Clock::now() + timeout;
  std::optional<int> status;
  while (true) {
    if (pump) {
      pump();
    }
    drain();
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      status = st;
      break;
    }
    if (Clock::now() >= deadline) {
      break;
    }
    pollfd p[2] = {{out_read ? out_read.get() : -1, POLLIN, 0},
                   {err_read ? err_read.get() : -1, POLLIN, 0}};
    // Short slices: the child's exit is not an event poll() can see, and `pump`
    // must keep running.
    ::poll(p, 2, pump ? 5 : 20);
  }
  if (!status) {
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    drain();
    return result;
  }
  drain();
  result.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  return result;
}

}  // namespace chat::test
