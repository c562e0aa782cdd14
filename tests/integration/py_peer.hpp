// The Python part-1-only client (tests/interop/py_client.py) as a test peer: a
// process and the lines it printed. Shared by the interop and fallback suites;
// a target that includes this defines PYTHON3_PATH and INTEROP_DIR.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/subprocess.hpp"

#if !defined(PYTHON3_PATH) || !defined(INTEROP_DIR)
#error "PYTHON3_PATH and INTEROP_DIR must name python3 and tests/interop"
#endif

namespace chat::test {

// Lines as an indented block for failure messages.
inline std::string lines_text(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += "  | " + l + "\n";
  }
  return out;
}

struct PyPeer {
  std::string name;
  std::unique_ptr<Subprocess> process;
  std::vector<std::string> seen;

  // Waits for `line` among the peer's output (earlier lines are kept in `seen`).
  ::testing::AssertionResult shows(const std::string& line) {
    if (process->wait_for_line(line, seen)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << name << " never printed \"" << line << "\"; it printed:\n"
           << lines_text(seen) << "stderr:\n"
           << process->stderr_text();
  }
  // The next line it prints is `line` (nothing printed in between).
  ::testing::AssertionResult next(const std::string& line) {
    auto got = process->read_line();
    if (!got) {
      return ::testing::AssertionFailure() << name << " printed nothing more; before:\n"
                                           << lines_text(seen) << "stderr:\n"
                                           << process->stderr_text();
    }
    seen.push_back(*got);
    if (*got != line) {
      return ::testing::AssertionFailure()
             << name << " printed \"" << *got << "\", expected \"" << line << "\"";
    }
    return ::testing::AssertionSuccess();
  }
  bool say(const std::string& line) { return process->write_stdin(line + "\n"); }
};

// py_client.py NICK 127.0.0.1 PORT; with `json`, it prints the raw packets (--json).
inline PyPeer start_py_client(const std::string& nick, std::uint16_t port, bool json = false) {
  std::string error;
  std::vector<std::string> argv{PYTHON3_PATH, std::string(INTEROP_DIR) + "/py_client.py"};
  if (json) {
    argv.emplace_back("--json");
  }
  argv.insert(argv.end(), {nick, "127.0.0.1", std::to_string(port)});
  PyPeer p{nick, Subprocess::spawn(argv, error), {}};
  EXPECT_NE(p.process, nullptr) << error;
  return p;
}

}  // namespace chat::test
