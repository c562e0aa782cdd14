// Nick, room and message validation over strict UTF-8; ICU for the anti-spoofing rules.
#include "protocol/rules.hpp"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>

#include <array>
#include <memory>

namespace chat::proto {
namespace {

// ICU objects made once (thread-safe static initialisation) and only read afterwards:
// Normalizer2 instances are immutable singletons, and a configured USpoofChecker is
// documented thread-safe for its check and skeleton functions. If ICU cannot provide
// them (no data), every non-ASCII nick is invalid rather than unchecked.
struct Icu {
  const icu::Normalizer2* nfc = nullptr;
  const icu::Normalizer2* nfkc_cf = nullptr;
  std::unique_ptr<USpoofChecker, void (*)(USpoofChecker*)> spoof{nullptr, uspoof_close};

  Icu() {
    UErrorCode err = U_ZERO_ERROR;
    nfc = icu::Normalizer2::getNFCInstance(err);
    nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(err);
    if (U_FAILURE(err)) {
      nfc = nfkc_cf = nullptr;
      return;
    }
    spoof.reset(uspoof_open(&err));
    if (spoof) {
      uspoof_setChecks(spoof.get(), USPOOF_INVISIBLE, &err);
    }
    if (U_FAILURE(err)) {
      spoof.reset();
    }
  }
  bool ok() const { return nfc != nullptr && nfkc_cf != nullptr && spoof != nullptr; }
};

const Icu& icu_objects() {
  static const Icu objects;
  return objects;
}

std::optional<std::string> normalize(const icu::Normalizer2& norm, std::string_view s) {
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  UErrorCode err = U_ZERO_ERROR;
  norm.normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink, nullptr,
                     err);
  if (U_FAILURE(err)) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> skeleton(const USpoofChecker* sc, std::string_view s) {
  UErrorCode err = U_ZERO_ERROR;
  const auto len = static_cast<int32_t>(s.size());
  const int32_t need = uspoof_getSkeletonUTF8(sc, 0, s.data(), len, nullptr, 0, &err);
  if (err != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(err)) {
    return std::nullopt;
  }
  std::string out(static_cast<std::size_t>(need), '\0');
  err = U_ZERO_ERROR;
  uspoof_getSkeletonUTF8(sc, 0, s.data(), len, out.data(), need, &err);
  if (U_FAILURE(err)) {  // U_STRING_NOT_TERMINATED_WARNING is a warning, not a failure
    return std::nullopt;
  }
  return out;
}

// NFKC case fold, then skeleton and case fold twice: the skeleton's prototypes may be
// capitals ("0" becomes "O"), folded again, and a second round catches what that
// folding leaves confusable. Folding comes first so that case never matters.
std::optional<std::string> comparison_key(const Icu& icu, std::string_view s) {
  if (!icu.ok()) {
    return std::nullopt;
  }
  if (s.empty()) {
    return std::string();
  }
  auto k = normalize(*icu.nfkc_cf, s);
  for (int round = 0; k && round < 2; ++round) {
    k = skeleton(icu.spoof.get(), *k);
    if (k) {
      k = normalize(*icu.nfkc_cf, *k);
    }
  }
  return k;
}

constexpr bool is_forbidden_ascii(char32_t c) {
  switch (c) {
    case ':':
    case '/':
    case '*':
    case '@':
    case ',':
    case '#':
    case '!':
      return true;
    default:
      return false;
  }
}

// What a nick may not show, however it is spelled: the client's own separators and
// markers, blanks and controls.
bool is_reserved(char32_t c) {
  return is_control(c) || is_forbidden_ascii(c) || u_isUWhiteSpace(static_cast<UChar32>(c));
}

// Code points that draw nothing (or a blank) without being White_Space or
// Default_Ignorable: the Braille blank draws the gap of `pat⠀->⠀chris`; U+FFFC and
// U+FFFD are what a terminal or the client shows for text it could not draw.
constexpr bool is_blank_looking(char32_t c) {
  return c == 0x2800 || c == 0xfffc || c == 0xfffd;
}

bool is_refused_code_point(char32_t c) {
  const auto uc = static_cast<UChar32>(c);
  switch (u_charType(uc)) {
    case U_UNASSIGNED:  // also noncharacters
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
      return true;
    default:
      break;
  }
  return u_hasBinaryProperty(uc, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
         u_hasBinaryProperty(uc, UCHAR_BIDI_CONTROL) || is_blank_looking(c);
}

bool is_mark(char32_t c) {
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_M_MASK) != 0;
}

// A non-spacing or enclosing mark used by no script in particular (script extensions
// only Inherited or Common): U+0301, U+0336, U+20DD... Such a mark can overlay a base
// letter without changing how the nick reads to a hurried eye.
bool is_generic_mark(char32_t c) {
  const auto uc = static_cast<UChar32>(c);
  if ((U_GET_GC_MASK(uc) & (U_GC_MN_MASK | U_GC_ME_MASK)) == 0) {
    return false;
  }
  std::array<UScriptCode, 32> scripts{};
  UErrorCode err = U_ZERO_ERROR;
  const int32_t n =
      uscript_getScriptExtensions(uc, scripts.data(), static_cast<int32_t>(scripts.size()), &err);
  if (U_FAILURE(err)) {
    return true;
  }
  for (int32_t i = 0; i < n; ++i) {
    if (scripts[static_cast<std::size_t>(i)] != USCRIPT_INHERITED &&
        scripts[static_cast<std::size_t>(i)] != USCRIPT_COMMON) {
      return false;
    }
  }
  return true;
}

// The checks that need Unicode properties; the nick is valid UTF-8, non-ASCII and
// already passed the per-code-point ASCII rules.
bool passes_unicode_rules(std::string_view nick) {
  const Icu& icu = icu_objects();
  if (!icu.ok()) {
    return false;
  }
  std::size_t i = 0;
  bool first = true;
  while (i < nick.size()) {
    const char32_t c = *next_code_point(nick, i);
    if (is_refused_code_point(c) || (first && is_mark(c))) {
      return false;
    }
    first = false;
  }
  // A generic mark that NFC does not fold into its base (e + U+0301 becomes é and
  // passes; t + U+0301 has no precomposed form and does not).
  const auto composed = normalize(*icu.nfc, nick);
  if (!composed) {
    return false;
  }
  i = 0;
  while (i < composed->size()) {
    if (const auto c = next_code_point(*composed, i); !c || is_generic_mark(*c)) {
      return false;
    }
  }
  // Compatibility forms of the forbidden characters (＊, ：, ／) and of blanks.
  const auto folded = normalize(*icu.nfkc_cf, nick);
  if (!folded || folded->empty()) {
    return false;
  }
  i = 0;
  while (i < folded->size()) {
    const std::size_t start = i;
    const auto c = next_code_point(*folded, i);
    if (!c || is_reserved(*c) || is_refused_code_point(*c)) {
      return false;
    }
    // Symbols and punctuation (no script of their own) that look like a forbidden
    // character: ∗ (U+2217), ∶ (U+2236), ∕ (U+2215), ꞉ (U+A789)... Letters of a
    // script are left alone (Devanagari visarga looks like ':' but is a letter).
    UErrorCode err = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(static_cast<UChar32>(*c), &err);
    if (*c < 0x80 || (U_SUCCESS(err) && script != USCRIPT_COMMON && script != USCRIPT_INHERITED)) {
      continue;
    }
    const auto sk = skeleton(icu.spoof.get(), folded->substr(start, i - start));
    if (!sk) {
      return false;
    }
    std::size_t j = 0;
    while (j < sk->size()) {
      const auto s = next_code_point(*sk, j);
      if (!s || is_reserved(*s)) {
        return false;
      }
    }
  }
  // Invisible sequences ICU knows of (the same non-spacing mark twice, ...).
  UErrorCode err = U_ZERO_ERROR;
  const int32_t failed = uspoof_check2UTF8(icu.spoof.get(), nick.data(),
                                           static_cast<int32_t>(nick.size()), nullptr, &err);
  if (U_FAILURE(err) || failed != 0) {
    return false;
  }
  const auto key = comparison_key(icu, nick);
  return key && !key->empty() && key->find("->") == std::string::npos &&
         key->find("<-") == std::string::npos;
}

}  // namespace

std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  if (i >= s.size()) {
    return std::nullopt;
  }
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (s.size() - i < len) {
    return std::nullopt;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) {
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return std::nullopt;
  }
  i += len;
  return cp;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (!next_code_point(s, i)) {
      return false;
    }
  }
  return true;
}

std::size_t code_point_count(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) {
      ++n;
    }
  }
  return n;
}

bool is_unicode_space(char32_t c) {
  // The White_Space property of Unicode, minus the controls caught elsewhere.
  switch (c) {
    case 0x20:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

bool is_valid_nick(std::string_view nick) {
  if (nick.empty()) {
    return false;
  }
  std::size_t i = 0;
  std::size_t count = 0;
  bool ascii = true;
  while (i < nick.size()) {
    const auto cp = next_code_point(nick, i);
    if (!cp || is_control(*cp) || is_unicode_space(*cp) || is_forbidden_ascii(*cp)) {
      return false;
    }
    ascii = ascii && *cp < 0x80;
    if (++count > kMaxNickCodePoints) {
      return false;
    }
  }
  if (ascii) {
    // The arrow of a DM line (`pat -> chris`); other ASCII needs no Unicode data.
    return nick.find("->") == std::string_view::npos && nick.find("<-") == std::string_view::npos;
  }
  return passes_unicode_rules(nick);
}

bool is_valid_message(std::string_view message) {
  if (message.empty()) {
    return false;
  }
  std::size_t i = 0;
  while (i < message.size()) {
    const auto cp = next_code_point(message, i);
    if (!cp || is_control(*cp)) {
      return false;
    }
  }
  return true;
}

std::string nick_key(std::string_view nick) {
  if (is_valid_utf8(nick)) {
    if (auto key = comparison_key(icu_objects(), nick)) {
      return std::move(*key);
    }
  }
  // Never the key of a valid nick: those are valid UTF-8, and 0xFF never is.
  return "\xff" + std::string(nick);
}

std::string ascii_fold(std::string_view text) {
  std::string key(text);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return key;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes, std::string_view marker) {
  if (text.size() <= max_bytes) {
    return std::string(text);
  }
  if (marker.size() > max_bytes) {
    marker = {};
  }
  std::size_t end = max_bytes - marker.size();
  // Back up over continuation bytes to the start of the sequence that was cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) {
    --end;
  }
  std::string out(text.substr(0, end));
  out.append(marker);
  return out;
}

}  // namespace chat::proto
