// chatctl: CLI11 subcommands, one exchange with chatd's control socket, table or JSON output.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/exchange.hpp"
#include "ctl/exit_codes.hpp"
#include "ctl/render.hpp"
#include "version.hpp"

namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out += w;
  }
  return out;
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
        std::cerr << "chatctl: unknown command '" << *word << "' (commands: " << join(names)
                  << ")\nRun chatctl --help for usage.\n";
        return chat::ctl::kExitUsage;
      }
    }
    std::cerr << "chatctl: " << e.what() << "\nRun chatctl --help for usage.\n";
    return chat::ctl::kExitUsage;
  }

  const auto request = commands.request();
  if (!request) {
    std::cerr << "chatctl: no command given\nRun chatctl --help for usage.\n";
    return chat::ctl::kExitUsage;
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
