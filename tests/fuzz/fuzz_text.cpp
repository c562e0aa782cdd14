// Fuzzes the text-safety module (common/text_safety) and chatctl's tables built on it:
// nothing from a peer reaches a terminal as a control, escape, bidi override or bad byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/text_safety.hpp"
#include "ctl/render.hpp"
#include "protocol/rules.hpp"

namespace {

using namespace chat;

// The terminal's safety property: valid UTF-8 with nothing sanitize() would replace.
void check_inert(std::string_view text, bool allow_newlines) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto cp = proto::next_code_point(text, i);
    if (!cp || (text::needs_replacement(*cp) && !(allow_newlines && *cp == '\n'))) {
      std::abort();
    }
  }
}

// A JSON string literal holding `s` byte for byte (RapidJSON accepts any bytes except
// '"', '\\' and controls, which are escaped; invalid UTF-8 goes through unvalidated).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. The sanitizer: inert, idempotent, and its width is the sum of its code points'.
  const std::string once = text::sanitize(input);
  check_inert(once, false);
  if (text::sanitize(once) != once) {
    std::abort();
  }
  std::size_t sum = 0;
  std::size_t i = 0;
  while (i < once.size()) {
    const int w = text::code_point_width(*proto::next_code_point(once, i));
    if (w < 0 || w > 2) {
      std::abort();
    }
    sum += static_cast<std::size_t>(w);
  }
  if (text::display_width(input) != sum || sum > 2 * once.size()) {
    std::abort();
  }

  // 2. append_inert on any 32-bit value, as the line editor calls it.
  for (std::size_t k = 0; k + 4 <= size && k < 64; k += 4) {
    const char32_t cp = static_cast<char32_t>(data[k]) | static_cast<char32_t>(data[k + 1]) << 8 |
                        static_cast<char32_t>(data[k + 2]) << 16 |
                        static_cast<char32_t>(data[k + 3]) << 24;
    std::string out;
    text::append_inert(out, cp);
    check_inert(out, false);
    const int w = text::code_point_width(cp);
    if (w < 0 || w > 2) {
      std::abort();
    }
  }

  // 3. chatctl's `who` table and error line with the input as every client-chosen field.
  const std::string field = json_string(input);
  const std::string who = R"({"type":"who","result":"ok","message":"","users":[{"nick":)" + field +
                          R"(,"peer":)" + field + R"(,"room":)" + field +
                          R"(,"since":0,"messages_in":1}]})";
  const auto table = ctl::render_reply("who", who, false);
  check_inert(table.out, true);
  check_inert(table.err, true);
  const std::string error = R"({"type":"kick","result":)" + field + R"(,"message":)" + field + "}";
  const auto line = ctl::render_reply("kick", error, false);
  check_inert(line.out, true);
  check_inert(line.err, true);
  return 0;
}
