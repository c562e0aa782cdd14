// chatctl: CLI11 subcommands, one exchange with chatd's control socket, table or JSON output.
#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "ctl/cli.hpp"
#include "ctl/exchange.hpp"
#include "ctl/exit_codes.hpp"
#include "ctl/render.hpp"
#include "version.hpp"

namespace {

// The longest password accepted: what a hello may carry (PROTOCOL.md part 2).
constexpr std::size_t kMaxPassword = 256;

// Overwrites a password in memory when it goes out of scope.
struct Secret {
  std::string text;
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { ::sodium_memzero(text.data(), text.size()); }
};

// One line from `fd` without its line end, at most kMaxPassword + 1 bytes kept
// (so an overlong one is seen as such). False at end of input with nothing read.
bool read_line(int fd, std::string& out) {
  out.clear();
  bool any = false;
  char c = 0;
  while (true) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || c == '\n') {
      break;
    }
    any = true;
    if (out.size() <= kMaxPassword) {
      out.push_back(c);
    }
  }
  if (!out.empty() && out.back() == '\r') {
    out.pop_back();
  }
  return any || c == '\n';
}

// Reads a password from the terminal with echo off; nullopt (and a message) if
// there is no terminal.
bool prompt_password(const std::string& prompt, std::string& out, std::string& error) {
  chat::UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty) {
    error = "no terminal to read the password from; use --password-stdin";
    return false;
  }
  termios saved{};
  if (::tcgetattr(tty.get(), &saved) != 0) {
    error = "cannot set up the terminal; use --password-stdin";
    return false;
  }
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  (void)!::write(tty.get(), prompt.data(), prompt.size());
  ::tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  const bool got = read_line(tty.get(), out);
  ::tcsetattr(tty.get(), TCSAFLUSH, &saved);
  if (!got) {
    error = "no password read";
    return false;
  }
  return true;
}

// The password for `nick`: one line of stdin, or typed twice on the terminal.
// Returns 0 with `out` set, or an exit status after printing why.
int read_password(const std::string& nick, bool from_stdin, Secret& out) {
  std::string error;
  if (from_stdin) {
    if (!read_line(STDIN_FILENO, out.text)) {
      error = "no password on standard input";
    }
  } else {
    Secret again;
    if (prompt_password("Password for " + nick + ": ", out.text, error) &&
        prompt_password("Again: ", again.text, error) && out.text != again.text) {
      error = "the two passwords differ; nothing changed";
    }
  }
  if (error.empty() && out.text.empty()) {
    error = "the password is empty";
  }
  if (error.empty() && out.text.size() > kMaxPassword) {
    error = "the password is longer than " + std::to_string(kMaxPassword) + " bytes";
  }
  if (!error.empty()) {
    std::cerr << "chatctl: " << error << "\n";
    return chat::ctl::kExitUsage;
  }
  return 0;
}

// The Argon2id string chatd stores (libsodium's interactive costs: 64 MiB, 2 passes).
std::optional<std::string> hash_password(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  if (::crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return std::nullopt;
  }
  return std::string(out);
}

// The first word on the command line that is not an option or an option's
// value: the command, if the user gave one.
std::optional<std::string> first_command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      return i + 1 < argc ? std::optional<std::string>(argv[i + 1]) : std::nullopt;
    }
    if (arg == "-s" || arg == "--socket" || arg == "-t" || arg == "--timeout") {
      ++i;  // its value follows
      continue;
    }
    if (!arg.empty() && arg[0] == '-') {
      continue;
    }
    return std::string(arg);
  }
  return std::nullopt;
}

int run(int argc, char** argv) {
  // Hidden (not in --help): the completion script that packaging installs, generated
  // at build time (ctl/CMakeLists.txt). Outside CLI11, whose hidden option group
  // would add a blank line to --help.
  if (argc == 2 && std::string_view(argv[1]) == "--bash-completion") {
    std::cout << chat::ctl::bash_completion() << std::flush;
    return chat::ctl::kExitOk;
  }
  CLI::App app{"chatctl: administer a running chatd through its control socket"};
  app.name("chatctl");
  app.footer(
      "Exit status: 0 ok, 1 the daemon answered with an error, 64 usage, 69 cannot connect,\n"
      "75 timeout, 76 unreadable reply, 77 permission denied. See chatctl(8).");
  std::string socket_path = "/run/chatd/chatd.ctl";
  double timeout_s = 5.0;
  bool json = false;
  app.add_option("-s,--socket", socket_path, "control socket of chatd")
      ->type_name("PATH")
      ->envname("CHATCTL_SOCKET")
      ->capture_default_str();
  app.add_option("-t,--timeout", timeout_s, "seconds for connect, send and reply together")
      ->type_name("SEC")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  app.add_flag("-j,--json", json, "print the daemon's reply object unchanged");
  app.add_flag_callback(
      "-V,--version",
      [] {
        std::cout << "chatctl " << chat::kVersion << "\n";
        throw CLI::Success();
      },
      "print chatctl's version and exit");
  app.require_subcommand(1);

  const chat::ctl::CommandLine commands(app);
  // The password of `account add|passwd` is read and hashed here, never sent.
  bool password_stdin = false;
  for (const char* name : {"account-add", "account-passwd"}) {
    if (CLI::App* sub = commands.subcommand(name)) {
      sub->add_flag("--password-stdin", password_stdin,
                    "read the password as one line of standard input instead of the terminal");
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);
    }
    // CLI11 says "A subcommand is required" for `chatctl bogus`: name it.
    if (const auto word = first_command_word(argc, argv)) {
      std::vector<std::string> names;
      bool known = false;
      for (const auto* sub : app.get_subcommands({})) {
        names.push_back(sub->get_name());
        known = known || sub->get_name() == *word;
      }
      if (!known) {
        std::cerr << "chatctl: unknown command '" << *word
                  << "' (commands: " << chat::ctl::join_words(names)
                  << ")\nRun chatctl --help for usage.\n";
        return chat::ctl::kExitUsage;
      }
    }
    std::cerr << "chatctl: " << e.what() << "\nRun chatctl --help for usage.\n";
    return chat::ctl::kExitUsage;
  }

  auto request = commands.request();
  if (!request) {
    std::cerr << "chatctl: no command given\nRun chatctl --help for usage.\n";
    return chat::ctl::kExitUsage;
  }
  if (request->name() == "account-add" || request->name() == "account-passwd") {
    if (::sodium_init() < 0) {
      std::cerr << "chatctl: libsodium cannot be initialised\n";
      return chat::ctl::kExitError;
    }
    const std::string* nick = request->arg("nick");
    Secret password;
    if (const int rc = read_password(nick != nullptr ? *nick : "", password_stdin, password);
        rc != 0) {
      return rc;
    }
    // Hashed here: no password crosses the control socket, and chatd never
    // spends its loop's time on a hash for chatctl.
    auto hash = hash_password(password.text);
    if (!hash) {
      std::cerr << "chatctl: cannot hash the password (out of memory?)\n";
      return chat::ctl::kExitError;
    }
    request->set("hash", std::move(*hash));
  }
  const auto timeout =
      std::chrono::milliseconds(static_cast<long long>(std::ceil(timeout_s * 1000)));
  const auto result =
      chat::ctl::exchange(socket_path, chat::proto::encode_control_request(*request), timeout);
  if (result.exit_code != chat::ctl::kExitOk) {
    std::cerr << "chatctl: " << result.error << "\n";
    return result.exit_code;
  }
  const auto rendered = chat::ctl::render_reply(request->name(), result.reply, json);
  std::cout << rendered.out << std::flush;
  std::cerr << rendered.err;
  return rendered.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "chatctl: " << e.what() << "\n";
    return chat::ctl::kExitError;
  }
}
