// What a typed line means: a packet to send, quitting, or text shown locally only.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/packet.hpp"

namespace chat::client {

struct SendAction {
  proto::ClientPacket packet;
};
struct QuitAction {};
// Lines shown to the user and nothing sent (help, usage mistakes).
struct LocalAction {
  std::vector<std::string> lines;
};
using Action = std::variant<std::monostate, SendAction, QuitAction, LocalAction>;

// Interprets one line. Empty lines do nothing; "/q" quits; "//text" sends "/text"
// as chat; any other line starting with "/" is a command, and an unknown command
// shows the help and sends nothing. Everything else is a chat message.
Action interpret(std::string_view line);

// The /help text.
std::vector<std::string> help_lines();

}  // namespace chat::client
