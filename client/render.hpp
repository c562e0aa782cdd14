// Packet -> display line: the pure, fuzzable renderer that makes received text inert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/packet.hpp"

namespace chat::client {

// One line for the conversation area. `text` never holds a control character,
// an escape sequence, invalid UTF-8 or a bidi override.
struct Line {
  std::string text;
  // Replayed room history (PROTOCOL.md part 2): shown marked, never as live talk.
  bool history = false;
  // Where the speaker's nick sits in `text` (bytes), for its colour; len 0: none.
  std::size_t nick_pos = 0;
  std::size_t nick_len = 0;
  // Names the user (whole word) or is a DM to them: drawn highlighted, may ring.
  enum class Alert { kNone, kMention, kDm };
  Alert alert = Alert::kNone;
  // When it was said (Unix ms): the server's `ts`, else when it arrived; 0 = now.
  std::int64_t ts_ms = 0;
};

// Makes untrusted text safe to write to a terminal: C0 controls and DEL become
// caret notation ("^[" for ESC), C1 controls, bidi embeddings/overrides/isolates
// and every invalid UTF-8 byte become U+FFFD. Everything else is kept as is.
std::string sanitize(std::string_view untrusted);

// Appends the inert form of one code point (as sanitize() does) to `out`.
void append_inert(std::string& out, char32_t cp);

// Terminal columns a code point takes: 0 (combining, zero-width), 1 or 2 (East
// Asian wide/fullwidth, most emoji). A fixed table, independent of the locale,
// so that tests and the fuzzer see what the program sees.
int code_point_width(char32_t cp);
// Columns of a valid-or-not UTF-8 string once sanitized.
std::size_t display_width(std::string_view text);

// The display line for a packet, or nothing for packets that are not shown
// (welcome, which only changes state). Everything taken from the packet is sanitized.
std::optional<Line> render(const proto::ServerPacket& packet);
// Decodes one payload and renders it; nothing for malformed or unknown packets,
// which the client ignores. Pure: the fuzz target.
std::optional<Line> render_payload(std::string_view payload);

}  // namespace chat::client
