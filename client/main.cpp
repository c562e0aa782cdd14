// chat_client: command-line arguments (CLI11) and the exit code of the session.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "client/app.hpp"
#include "version.hpp"

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
      "Exit status: 0 /q, Ctrl-D or end of input; 64 usage error; 69 cannot connect\n"
      "(refused, unknown host) or the server closed the connection; 70 internal\n"
      "error; 71 cannot set up the terminal; 76 the server refused us (an error,\n"
      "then the close: nick invalid or taken, server full, kicked); 129 hangup;\n"
      "130 Ctrl-C or SIGINT; 143 SIGTERM.");
  app.add_option("NICK", options.nick, "your nick (the server checks it)")->required();
  app.add_option("HOST", options.host, "server name or address")->required();
  app.add_option("PORT", options.port, "server port")->required();
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
  try {
    return chat::client::run_client(options);
  } catch (const std::exception& e) {
    // Caught here so that the stack unwinds and RAII restores the terminal.
    std::fprintf(stderr, "chat_client: internal error: %s\n", e.what());
    return EX_SOFTWARE;
  }
}
