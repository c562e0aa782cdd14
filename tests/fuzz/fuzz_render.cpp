// Fuzzes the client's renderer: nothing a peer sends may reach the terminal as a control byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "client/render.hpp"
#include "protocol/rules.hpp"

namespace {

using namespace chat;

// The property the terminal relies on: valid UTF-8 without C0 controls, DEL, C1
// controls (ESC's 8-bit forms such as CSI 0x9B) or bidi embeddings/overrides/isolates.
void check_inert(std::string_view text) {
  if (!proto::is_valid_utf8(text)) {
    std::abort();
  }
  std::size_t i = 0;
  while (i < text.size()) {
    const auto cp = proto::next_code_point(text, i);
    if (!cp) {
      std::abort();
    }
    const char32_t c = *cp;
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
        (c >= 0x2066 && c <= 0x2069)) {
      std::abort();
    }
  }
  // The width table must cope with whatever survives.
  (void)client::display_width(text);
}

void check(const std::optional<client::Line>& line) {
  if (line) {
    check_inert(line->text);
  }
}

// Splits the input at 0x00 bytes into fields for packets built directly, so that the
// renderer also sees strings the JSON decoder would never hand it (invalid UTF-8).
std::vector<std::string> fields(std::string_view data) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() < 4) {
    const auto end = data.find('\0', start);
    out.emplace_back(data.substr(start, end == std::string_view::npos ? data.npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  while (out.size() < 4) {
    out.emplace_back();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. The whole input as a payload from the server, as the receiver thread sees it.
  check(client::render_payload(input));

  // 2. The sanitizer on raw bytes, and its idempotence: inert text stays as it is.
  const std::string once = client::sanitize(input);
  check_inert(once);
  if (client::sanitize(once) != once) {
    std::abort();
  }

  // 3. Every packet type with fields taken from the input, bypassing the decoder.
  const auto f = fields(input);
  using namespace chat::proto;
  check(client::render(ServerPacket{Chat{f[0], f[1], f[2].empty()}}));
  check(client::render(ServerPacket{Join{f[0], f[1]}}));
  check(client::render(ServerPacket{Leave{f[0], std::nullopt}}));
  check(client::render(ServerPacket{Dm{f[0], f[1], f[2]}}));
  check(client::render(ServerPacket{Emote{f[0], f[1], !f[3].empty()}}));
  check(client::render(ServerPacket{WhoReply{f[0], {f[1], f[2], f[3]}}}));
  check(client::render(ServerPacket{RoomsReply{{RoomInfo{f[0], size}, RoomInfo{f[1], 0}}}}));
  check(client::render(ServerPacket{Info{f[0]}}));
  check(client::render(ServerPacket{Error{f[0], f[1]}}));
  check(client::render(ServerPacket{Welcome{f[0], f[1], {f[2]}, f[3]}}));
  return 0;
}
