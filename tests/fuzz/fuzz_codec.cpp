// Fuzzes the codec and the nick rules: no input crashes them, every accepted packet
// survives a round trip, decode_client's chat fast path agrees with the DOM path, and
// the nick comparison key (ICU skeleton) is well-behaved.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  using namespace chat::proto;

  // The rules on the raw bytes: a valid nick is valid UTF-8 and has a non-empty key
  // that is valid UTF-8 too; the key is a function (same input, same key).
  const std::string key = nick_key(payload);
  if (key != nick_key(payload)) {
    std::abort();
  }
  if (is_valid_nick(payload) && (!is_valid_utf8(payload) || key.empty() || !is_valid_utf8(key))) {
    std::abort();
  }

  auto client = decode_client(payload);
  // decode_client's chat fast path answers exactly as the DOM path, its definition.
  const auto dom = decode_client_dom(payload);
  if (client.index() != dom.index()) {
    std::abort();
  }
  if (const auto* packet = std::get_if<ClientPacket>(&client)) {
    const auto& other = std::get<ClientPacket>(dom);
    if (packet->index() != other.index() || encode(*packet) != encode(other)) {
      std::abort();
    }
  } else {
    const auto& a = std::get<DecodeError>(client);
    const auto& b = std::get<DecodeError>(dom);
    if (a.code != b.code || a.fatal != b.fatal || a.message != b.message) {
      std::abort();
    }
  }
  if (auto* packet = std::get_if<ClientPacket>(&client)) {
    // What the server accepts is valid UTF-8 JSON, and re-encodes to an equal packet.
    if (!is_valid_utf8(payload)) {
      std::abort();
    }
    const std::string again = encode(*packet);
    auto second = decode_client(again);
    auto* p2 = std::get_if<ClientPacket>(&second);
    if (p2 == nullptr || encode(*p2) != again) {
      std::abort();
    }
  } else {
    const auto& err = std::get<DecodeError>(client);
    if (err.message.empty()) {
      std::abort();
    }
  }

  auto server = decode_server(payload);
  if (auto* packet = std::get_if<ServerPacket>(&server)) {
    const std::string again = encode(*packet);
    auto second = decode_server(again);
    auto* p2 = std::get_if<ServerPacket>(&second);
    if (p2 == nullptr || encode(*p2) != again) {
      std::abort();
    }
  }
  return 0;
}
