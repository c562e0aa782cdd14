// Child processes for tests: stdin/stdout pipes, stdout read line by line with deadlines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/support/patience.hpp"

namespace chat::test {

class Subprocess {
 public:
  // Starts argv[0] (a path, or a name looked up in PATH) with stdin and stdout as
  // pipes and stderr captured to a file. nullptr and `error` on failure.
  static std::unique_ptr<Subprocess> spawn(const std::vector<std::string>& argv,
                                           std::string& error);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool write_stdin(std::string_view bytes, std::chrono::milliseconds timeout = kPatience);
  void close_stdin() { stdin_.reset(); }
  // The next stdout line without its '\n'; nullopt on timeout or EOF (see stdout_eof()).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = kPatience);
  // Reads lines until one equals `line`; every line read (the match included) is
  // appended to `seen`. False on timeout or EOF.
  bool wait_for_line(const std::string& line, std::vector<std::string>& seen,
                     std::chrono::milliseconds timeout = kPatience);
  bool stdout_eof() const { return eof_; }
  std::string stderr_text() const;
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kPatience);
  void kill(int sig);

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  UniqueFd stdin_;
  UniqueFd stdout_;
  std::string out_;
  bool eof_ = false;
  std::string stderr_path_;
  std::optional<int> status_;
};

// Waits for the child `pid` to exit, until `deadline`; its raw wait status, or
// nullopt on timeout (the child is left running) or if it is not our child.
std::optional<int> wait_child(pid_t pid, Clock::time_point deadline);

// How a child run by run_process ended and what it wrote.
struct RunResult {
  // The exit code; 128 + N if signal N killed it; -1 if it could not be started or
  // did not finish within the timeout (it is then killed with SIGKILL).
  int exit_code = -1;
  std::string out;  // its stdout
  std::string err;  // its stderr, or why it could not be started
  // stdout then stderr, for messages and searches that do not care which.
  std::string output() const { return out + err; }
  // "exit 0", "killed by signal 9", "did not finish ...": for failure messages.
  std::string describe() const;
};

// Runs argv (argv[0] a path, or a name looked up in PATH) to completion, bounded by
// `timeout`: stdin /dev/null, stdout and stderr captured apart, an environment
// without LISTEN_* and NOTIFY_SOCKET (it inherits no sockets). `pump`, if given,
// is called every few milliseconds while waiting, so that a server running in the
// test's own thread can answer the child. Returns once the child has exited;
// output that a grandchild still writes after that is not waited for.
RunResult run_process(const std::vector<std::string>& argv, const std::function<void()>& pump = {},
                      std::chrono::milliseconds timeout = kPatience);

}  // namespace chat::test
