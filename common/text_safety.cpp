// The sanitizer and the ICU-based width measure shared by chat_client and chatctl.
#include "common/text_safety.hpp"

#include <unicode/uchar.h>

#include "protocol/rules.hpp"

namespace chat::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Bidi embeddings, overrides and isolates: they would reorder the text after them
// (including our own prompt or the next table column), so a peer could disguise a line.
// The marks (LRM, RLM, ALM) change no order beyond their neighbours and are kept.
constexpr bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

bool needs_replacement(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || is_bidi_control(cp) || cp > 0x10FFFF ||
         (cp >= 0xD800 && cp <= 0xDFFF);
}

void append_inert(std::string& out, char32_t cp) {
  if (cp < 0x20) {
    out += '^';
    out += static_cast<char>(cp + 0x40);  // ESC -> "^[", NUL -> "^@"
  } else if (cp == 0x7F) {
    out += "^?";
  } else if (needs_replacement(cp)) {
    out += kReplacement;
  } else {
    append_utf8(out, cp);
  }
}

std::string sanitize(std::string_view untrusted) {
  std::string out;
  out.reserve(untrusted.size());
  std::size_t i = 0;
  while (i < untrusted.size()) {
    if (const auto cp = proto::next_code_point(untrusted, i)) {
      append_inert(out, *cp);
    } else {
      out += kReplacement;  // one replacement per invalid byte, then resynchronise
      ++i;
    }
  }
  return out;
}

int code_point_width(char32_t cp) {
  if (cp < 0x300) {
    return 1;  // Latin-1 and Latin Extended: one column (U+00AD included, as terminals do)
  }
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 1;  // shown as U+FFFD
  }
  const auto c = static_cast<UChar32>(cp);
  if ((U_GET_GC_MASK(c) & (U_GC_MN_MASK | U_GC_ME_MASK | U_GC_CF_MASK)) != 0) {
    return 0;
  }
  // Before the ignorables: the Hangul fillers U+115F and U+3164 take two columns.
  const auto eaw = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
  if (eaw == U_EA_WIDE || eaw == U_EA_FULLWIDTH) {
    return 2;
  }
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return 0;
  }
  const auto hangul = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  return hangul == U_HST_VOWEL_JAMO || hangul == U_HST_TRAILING_JAMO ? 0 : 1;
}

std::size_t display_width(std::string_view text) {
  const std::string clean = sanitize(text);
  std::size_t width = 0;
  std::size_t i = 0;
  while (i < clean.size()) {
    const auto cp = proto::next_code_point(clean, i);
    width += static_cast<std::size_t>(code_point_width(cp.value_or(0xFFFD)));
    if (!cp) {
      ++i;
    }
  }
  return width;
}

}  // namespace chat::text
