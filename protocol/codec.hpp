// JSON <-> packets with RapidJSON; decoding validates and reports protocol error codes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/errors.hpp"
#include "protocol/frame.hpp"
#include "protocol/packet.hpp"

namespace chat::proto {

struct DecodeError {
  ErrorCode code;
  // True when the envelope itself is broken (not UTF-8/JSON/object/string type,
  // or a malformed hello): the connection must be closed. False for a well-formed
  // packet the receiver cannot act on; the connection may stay open.
  bool fatal;
  std::string message;
};

template <typename Packet>
using Decoded = std::variant<Packet, DecodeError>;

// Server side: parses and validates one payload from a client.
Decoded<ClientPacket> decode_client(std::string_view payload);
// The same through the DOM alone, without decode_client's chat fast path: the
// definition the fast path is tested against (tests only).
Decoded<ClientPacket> decode_client_dom(std::string_view payload);
// Client side: parses one payload from a server. Unknown types give
// kUnknownType (non-fatal) so the caller can ignore them.
Decoded<ServerPacket> decode_server(std::string_view payload);

// Payload JSON (not framed).
std::string encode(const ClientPacket& packet);
std::string encode(const ServerPacket& packet);
// The frame of encode(packet), written through a reused per-thread buffer (no
// temporary strings); nullopt if the payload is too long for one frame.
std::optional<Frame> encode_frame(const ServerPacket& packet);
// `live`, a chat or emote payload as encode() writes it (a JSON object), marked as
// replayed history: the same members plus "history": true, made without decoding
// or re-encoding. nullopt if `live` is not an object's text.
std::optional<std::string> as_history_payload(std::string_view live);
// `live` (as above) with a "ts" member (Unix ms), likewise made without re-encoding.
std::optional<std::string> with_ts_payload(std::string_view live, std::int64_t ts);

// Longest error message sent: longer ones (which may quote a peer's text) are cut
// at a UTF-8 boundary and marked " [truncated]".
inline constexpr std::size_t kMaxErrorText = 512;
// An error packet for `code`; always fits in one frame.
std::string encode_error(ErrorCode code, std::string_view message);

}  // namespace chat::proto
