// Wire names of the protocol's error codes.
#include "protocol/errors.hpp"

#include <array>
#include <utility>

namespace chat::proto {
namespace {
constexpr std::array<std::pair<ErrorCode, std::string_view>, 15> kNames{{
    {ErrorCode::kBadPacket, "bad-packet"},
    {ErrorCode::kHelloRequired, "hello-required"},
    {ErrorCode::kNickInvalid, "nick-invalid"},
    {ErrorCode::kNickTaken, "nick-taken"},
    {ErrorCode::kBadMessage, "bad-message"},
    {ErrorCode::kBadRoom, "bad-room"},
    {ErrorCode::kUnknownType, "unknown-type"},
    {ErrorCode::kNoSuchNick, "no-such-nick"},
    {ErrorCode::kHelloTimeout, "hello-timeout"},
    {ErrorCode::kServerFull, "server-full"},
    {ErrorCode::kFlood, "flood"},
    {ErrorCode::kKicked, "kicked"},
    {ErrorCode::kAuthFailed, "auth-failed"},
    {ErrorCode::kTlsRequired, "tls-required"},
    {ErrorCode::kClusterUnavailable, "cluster-unavailable"},
}};
}  // namespace

std::string_view error_name(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) {
      return name;
    }
  }
  return "bad-packet";
}

std::optional<ErrorCode> error_from_name(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) {
      return c;
    }
  }
  return std::nullopt;
}

}  // namespace chat::proto
