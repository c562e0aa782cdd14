// Command parsing for the input line.
#include "client/commands.hpp"

#include "client/render.hpp"

namespace chat::client {

std::vector<std::string> help_lines() {
  return {
      "*** commands:",
      "***   /q             quit",
      "***   /help          this help",
      "***   //text         send a message that starts with /",
  };
}

Action interpret(std::string_view line) {
  if (line.empty()) {
    return std::monostate{};
  }
  if (line.front() != '/') {
    return SendAction{proto::ChatRequest{std::string(line)}};
  }
  if (line.starts_with("//")) {
    return SendAction{proto::ChatRequest{std::string(line.substr(1))}};
  }
  const std::string_view name = line.substr(0, line.find(' '));
  if (name == "/q") {
    return QuitAction{};
  }
  LocalAction help;
  if (name != "/help") {
    help.lines.push_back("*** unknown command " + sanitize(name) + ", nothing sent");
  }
  for (auto& l : help_lines()) {
    help.lines.push_back(std::move(l));
  }
  return help;
}

}  // namespace chat::client
