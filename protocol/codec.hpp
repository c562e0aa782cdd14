// JSON <-> packets with RapidJSON; decoding validates and reports protocol error codes.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "protocol/errors.hpp"
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
// Client side: parses one payload from a server. Unknown types give
// kUnknownType (non-fatal) so the caller can ignore them.
Decoded<ServerPacket> decode_server(std::string_view payload);

// Payload JSON (not framed).
std::string encode(const ClientPacket& packet);
std::string encode(const ServerPacket& packet);
// An error packet for `code`.
std::string encode_error(ErrorCode code, std::string_view message);

}  // namespace chat::proto
