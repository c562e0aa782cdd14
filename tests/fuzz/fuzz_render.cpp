// Fuzzes the text shown to people: the text-safety module (common/text_safety), the
// client's renderer and chatctl's tables built on it. Nothing a peer sends may reach a
// terminal as a control byte, escape sequence, bidi override or invalid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "client/render.hpp"
#include "common/text_safety.hpp"
#include "ctl/render.hpp"
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

// check_inert for chatctl's multi-line output.
void check_inert_lines(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    check_inert(text.substr(start, end == std::string_view::npos ? text.npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
}

// A JSON string literal holding `s` byte for byte (controls escaped; invalid UTF-8 goes
// through, as RapidJSON accepts it unvalidated).
std::string json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20) {
      out += "\\u00";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
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
  // Its width is the sum of its code points' widths, each 0, 1 or 2.
  std::size_t sum = 0;
  std::size_t at = 0;
  while (at < once.size()) {
    const int w = text::code_point_width(*proto::next_code_point(once, at));
    if (w < 0 || w > 2) {
      std::abort();
    }
    sum += static_cast<std::size_t>(w);
  }
  if (text::display_width(input) != sum) {
    std::abort();
  }
  // append_inert and the width of any 32-bit value, as the line editor calls them.
  for (std::size_t k = 0; k + 4 <= size && k < 64; k += 4) {
    const char32_t cp = static_cast<char32_t>(data[k]) | static_cast<char32_t>(data[k + 1]) << 8 |
                        static_cast<char32_t>(data[k + 2]) << 16 |
                        static_cast<char32_t>(data[k + 3]) << 24;
    std::string one;
    text::append_inert(one, cp);
    check_inert(one);
    const int w = text::code_point_width(cp);
    if (w < 0 || w > 2) {
      std::abort();
    }
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

  // 4. chatctl's `who` table and error line with input fields as the client-chosen text.
  const std::string who = R"({"type":"who","result":"ok","message":"","users":[{"nick":)" +
                          json_string(f[0]) + R"(,"peer":)" + json_string(f[1]) + R"(,"room":)" +
                          json_string(f[2]) + R"(,"since":0,"messages_in":1}]})";
  const auto table = ctl::render_reply("who", who, false);
  check_inert_lines(table.out);
  check_inert_lines(table.err);
  const auto line = ctl::render_reply("kick",
                                      R"({"type":"kick","result":)" + json_string(f[0]) +
                                          R"(,"message":)" + json_string(f[3]) + "}",
                                      false);
  check_inert_lines(line.out);
  check_inert_lines(line.err);
  return 0;
}
