// Child processes for tests: stdin/stdout pipes, stdout read line by line with deadlines.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/integration/chatd_process.hpp"

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

// Runs argv to completion (bounded), stdin /dev/null; the raw wait status, or
// nullopt if it could not start or did not finish in time (then it is killed).
// stdout and stderr together go to `output`.
std::optional<int> run_process(const std::vector<std::string>& argv, std::string& output,
                               std::chrono::milliseconds timeout = kPatience);

}  // namespace chat::test
