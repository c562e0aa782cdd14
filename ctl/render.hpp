// chatctl output: a control reply rendered as a table or lines for people, or as JSON.
#pragma once

#include <string>
#include <string_view>

#include "common/text_safety.hpp"

namespace chat::ctl {

struct Rendered {
  int exit_code = 0;
  std::string out;  // for stdout
  std::string err;  // for stderr
};

// Exit status for a reply's result code: ok 0, permission-denied 77, other 1.
int exit_code_for_result(std::string_view result);

// True if chatctl has a renderer for the registry command `command` (a test
// checks every entry has one; a reply to another command prints its message).
bool has_renderer(std::string_view command);

// Renders the reply `payload` to `command`. With `json` the payload is printed
// unchanged (plus a newline); the exit status follows the result either way.
// A payload that is not a control reply gives kExitProtocol.
Rendered render_reply(std::string_view command, std::string_view payload, bool json);

// Terminal columns a string takes once made inert (the shared text-safety module's
// measure: wide East Asian characters and emoji count 2), used to align tables.
using text::display_width;

}  // namespace chat::ctl
