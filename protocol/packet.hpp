// One struct per packet type of PROTOCOL.md, grouped by direction in std::variants.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/errors.hpp"

namespace chat::proto {

// ---- client -> server -------------------------------------------------------
struct Hello {
  std::string nick;
  // Present (even empty) makes the connection modern (PROTOCOL.md part 2).
  std::optional<std::vector<std::string>> caps;
  // The registered nick's password (PROTOCOL.md part 2, "Registered nicks"); at most
  // kMaxPassword bytes. Never logged.
  std::optional<std::string> password = std::nullopt;
};
// Longest password a hello may carry (bytes); a longer one is bad-packet.
inline constexpr std::size_t kMaxPassword = 256;
struct ChatRequest {
  std::string message;
};
struct DmRequest {
  std::string to;
  std::string message;
};
struct EmoteRequest {
  std::string message;
};
struct WhoRequest {};
struct EnterRequest {
  std::string room;
};
struct RoomsRequest {};

using ClientPacket = std::variant<Hello, ChatRequest, DmRequest, EmoteRequest, WhoRequest,
                                  EnterRequest, RoomsRequest>;

// ---- server -> client -------------------------------------------------------
struct Welcome {
  std::string nick;
  std::string server;
  std::vector<std::string> caps;
  std::string room;
};
struct Chat {
  std::string nick;
  std::string message;
  bool history = false;
  // When the server received it, Unix ms (the `time` cap, PROTOCOL.md part 2).
  std::optional<std::int64_t> ts = std::nullopt;
};
struct Join {
  std::string nick;
  std::optional<std::string> room;
};
struct Leave {
  std::string nick;
  std::optional<std::string> room;
  // The room the nick moved to with `enter` (the `moves` cap); absent when it left the chat.
  std::optional<std::string> to = std::nullopt;
};
struct Dm {
  std::string from;
  std::string to;
  std::string message;
  std::optional<std::int64_t> ts = std::nullopt;
};
struct Emote {
  std::string nick;
  std::string message;
  bool history = false;
  std::optional<std::int64_t> ts = std::nullopt;
};
struct WhoReply {
  std::string room;
  std::vector<std::string> nicks;
  bool truncated = false;  // the list was cut to fit in one frame
};
struct RoomInfo {
  std::string name;
  std::uint64_t users = 0;
};
struct RoomsReply {
  std::vector<RoomInfo> rooms;
  bool truncated = false;  // the list was cut to fit in one frame
};
struct Info {
  std::string message;
};
struct Error {
  std::string code;  // a string: a client must show codes it does not know
  std::string message;
};

using ServerPacket =
    std::variant<Welcome, Chat, Join, Leave, Dm, Emote, WhoReply, RoomsReply, Info, Error>;

// The capabilities this implementation knows, in the order it lists them.
inline const std::vector<std::string>& known_caps() {
  static const std::vector<std::string> caps{"dm",   "emote",   "who",  "rooms",
                                             "info", "history", "time", "moves"};
  return caps;
}

}  // namespace chat::proto
