// Packet -> display line: the pure, fuzzable renderer that makes received text inert.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/text_safety.hpp"
#include "protocol/packet.hpp"

namespace chat::client {

// One line for the conversation area. `text` never holds a control character,
// an escape sequence, invalid UTF-8 or a bidi override.
struct Line {
  std::string text;
  // Replayed room history (PROTOCOL.md part 2): shown marked, never as live talk.
  bool history = false;
};

// The sanitizer and width measure are the shared text-safety module's
// (common/text_safety.hpp), named here for the client's callers.
using text::append_inert;
using text::code_point_width;
using text::display_width;
using text::sanitize;

// The display line for a packet, or nothing for packets that are not shown
// (welcome, which only changes state). Everything taken from the packet is sanitized.
std::optional<Line> render(const proto::ServerPacket& packet);
// Decodes one payload and renders it; nothing for malformed or unknown packets,
// which the client ignores. Pure: the fuzz target.
std::optional<Line> render_payload(std::string_view payload);

}  // namespace chat::client
