// Error codes of the wire protocol (PROTOCOL.md, "Errors and limits") and their names.
#pragma once

#include <optional>
#include <string_view>

namespace chat::proto {

enum class ErrorCode {
  kBadPacket,
  kHelloRequired,
  kNickInvalid,
  kNickTaken,
  kBadMessage,
  kBadRoom,
  kUnknownType,
  kNoSuchNick,
  kHelloTimeout,
  kServerFull,
  kFlood,
  kKicked,
  kAuthFailed,
  kTlsRequired,
  kClusterUnavailable,
};

// The wire name, e.g. "bad-packet".
std::string_view error_name(ErrorCode code);
std::optional<ErrorCode> error_from_name(std::string_view name);

}  // namespace chat::proto
