// chat_client: command-line arguments (CLI11) and the exit code of the session.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "client/app.hpp"
#include "client/trust_files.hpp"
#include "version.hpp"

namespace {

// $XDG_CONFIG_HOME/chat_client/config, falling back to ~/.config as the XDG spec says.
std::string default_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/chat_client/config";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    return std::string(home) + "/.config/chat_client/config";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  chat::client::Options options;
  CLI::App app{
      "chat_client: terminal client for chatd.\n"
      "Type a line and press Enter to send it; /help lists the commands, /q quits.\n"
      "When stdin is not a terminal, each input line is sent and each received\n"
      "line printed (plain mode); at end of input it leaves after the server's\n"
      "last lines (at most 1 s).",
      "chat_client"};
  app.footer(
      "Exit status: 0 /q, Ctrl-D or end of input; 64 usage error; 65 plain mode: an\n"
      "input line was too long to send; 69 cannot connect (refused, unknown host,\n"
      "timeout) or the server closed the connection (plain mode, --no-reconnect);\n"
      "70 internal error; 71 cannot set up the terminal; 73 cannot open the log\n"
      "file; 76 the server refused us (an error, then the close: nick invalid or\n"
      "taken, server full, kicked, password refused); 66 --password-file or --ca-file\n"
      "cannot be used; 77 the server's certificate is not trusted; 78 the locale is\n"
      "not UTF-8; 79 the server's certificate changed since it was remembered; 129\n"
      "hangup; 130 Ctrl-C or SIGINT; 143 SIGTERM.");
  app.add_option("NICK", options.nick, "your nick (the server checks it)")->required();
  app.add_option("HOST", options.host, "server name or address")->required();
  app.add_option("PORT", options.port, "server port, 1 to 65535")->required();
  std::string stamps = "HH:MM";
  app.add_option("--timestamps", stamps,
                 "time before each line: off, HH:MM or HH:MM:SS (default HH:MM; in plain\n"
                 "mode lines are stamped only when this is given)")
      ->check(CLI::IsMember({"off", "HH:MM", "HH:MM:SS"}));
  std::string bell = "mention";
  app.add_option("--bell", bell,
                 "ring the terminal bell for lines naming you and DMs (mention), DMs only\n"
                 "(dm) or never (off); default mention")
      ->check(CLI::IsMember({"mention", "dm", "off"}));
  std::string color = "auto";
  app.add_option("--color", color, "nick colours: auto (unless NO_COLOR is set), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  bool no_reconnect = false;
  app.add_flag("--no-reconnect", no_reconnect,
               "when the connection drops, exit with 69 instead of reconnecting");
  app.add_option("--scrollback", options.look.scrollback, "lines kept for PgUp/PgDn (default 2000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  std::string log_file;
  app.add_option("--log-file", log_file,
                 "append every line shown, with date and time, to this file");
  app.add_flag("--tls", options.tls,
               "connect with TLS (1.2 or later): the certificate must verify against the\n"
               "system's CAs and name HOST; else, like ssh, its fingerprint is shown and,\n"
               "if you trust it, remembered in known_servers");
  app.add_option("--ca-file", options.ca_file,
                 "with --tls: trust the CA certificates (PEM) in this file instead of the\n"
                 "system's; no trust on first use then");
  std::string password_file;
  app.add_option("--password-file", password_file,
                 "the password of a registered nick: the first line of this file, which\n"
                 "only you may read (chmod 600); sent only over --tls");
  app.add_flag("--allow-plaintext-password", options.allow_plaintext_password,
               "send the password even without --tls (anyone on the way can read it)");
  int connect_timeout = 10;
  app.add_option("--connect-timeout", connect_timeout,
                 "seconds for connecting and for the TLS handshake (default 10)")
      ->check(CLI::Range(1, 300));
  // Same keys as the long options (`timestamps = "HH:MM:SS"`, `no-reconnect = true`);
  // a missing default file is fine, options on the command line win.
  app.set_config("--config", default_config_path(),
                 "read options from this file (default $XDG_CONFIG_HOME/chat_client/config,\n"
                 "else ~/.config/chat_client/config)");
  app.set_version_flag("--version", std::string("chat_client ") + chat::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return chat::client::exit_code::kUsage;
  }
  // Ports are checked here: the resolver would take "85009" modulo 65536.
  const bool digits = !options.port.empty() && options.port.size() <= 5 &&
                      options.port.find_first_not_of("0123456789") == std::string::npos;
  const long port = digits ? std::stol(options.port) : 0;
  if (port < 1 || port > 65535) {
    std::fprintf(stderr, "chat_client: PORT must be a number from 1 to 65535, not \"%s\"\n",
                 options.port.c_str());
    return chat::client::exit_code::kUsage;
  }
  using chat::client::Look;
  options.stamps_given = app.count("--timestamps") > 0;
  options.reconnect = !no_reconnect;
  options.log_file = log_file;
  options.connect_timeout_ms = connect_timeout * 1000;
  if (!options.ca_file.empty() && !options.tls) {
    std::fprintf(stderr, "chat_client: --ca-file needs --tls\n");
    return chat::client::exit_code::kUsage;
  }
  if (!password_file.empty()) {
    std::string error;
    auto password = chat::client::read_password_file(password_file, error);
    if (!password) {
      std::fprintf(stderr, "chat_client: %s\n", error.c_str());
      return chat::client::exit_code::kNoInput;
    }
    options.password = std::move(*password);
  }
  options.look.stamps = stamps == "off"     ? Look::Stamps::kOff
                        : stamps == "HH:MM" ? Look::Stamps::kMinutes
                                            : Look::Stamps::kSeconds;
  options.look.bell = bell == "mention" ? Look::Bell::kMention
                      : bell == "dm"    ? Look::Bell::kDm
                                        : Look::Bell::kOff;
  const char* no_color = std::getenv("NO_COLOR");  // no-color.org: set and non-empty
  options.look.color =
      color == "always" || (color == "auto" && (no_color == nullptr || *no_color == '\0'));
  try {
    return chat::client::run_client(options);
  } catch (const std::exception& e) {
    // Caught here so that the stack unwinds and RAII restores the terminal.
    std::fprintf(stderr, "chat_client: internal error: %s\n", e.what());
    return EX_SOFTWARE;
  }
}
