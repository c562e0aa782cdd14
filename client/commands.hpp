// What a typed line means (a packet to send, quitting, or local text) and Tab completion.
#pragma once

#include <optional>
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

// What the session knows when a line is typed.
struct Context {
  std::string room;  // the room we are in; "" when the server has not said
  // The caps the server accepted ({} for a Part-1 server, which sends no welcome);
  // nullopt while not known yet: commands are then sent as typed.
  std::optional<std::vector<std::string>> caps;
};

// Interprets one line. Empty lines do nothing; "//text" sends "/text" as chat;
// other lines starting with "/" are commands (/q, /help, /msg, /message, /me,
// /who, /join, /rooms), and an unknown command or a command missing its
// arguments answers one line and sends nothing. A line of only whitespace sends
// nothing. Everything else is a chat message. Arguments are not validated here:
// the server is the judge of nicks and rooms. With `context`: /join of the room we
// are in, and extension commands the server does not support, answer locally
// (/me falls back to a chat the others can read).
Action interpret(std::string_view line, const Context& context = {});

// The /help text.
std::vector<std::string> help_lines();
// Every command name, sorted.
const std::vector<std::string>& command_names();

struct Completion {
  std::u32string text;
  std::size_t cursor = 0;
  // Set when several candidates share no longer prefix: shown to the user.
  std::vector<std::string> candidates;
};
// Completes the word before the cursor: a command name when it is the first word
// and starts with "/", otherwise a nick from `nicks` (ASCII case-insensitive). A
// unique match is completed with a trailing space; several are extended to their
// common prefix, and listed when that adds nothing.
Completion complete(const std::u32string& text, std::size_t cursor,
                    const std::vector<std::string>& nicks);

}  // namespace chat::client
