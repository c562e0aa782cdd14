// Fuzzes the codec: no input crashes it, and every accepted packet survives a round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/codec.hpp"
#include "protocol/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  using namespace chat::proto;

  auto client = decode_client(payload);
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
