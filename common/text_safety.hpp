// Inert text for terminals: the one sanitizer and width measure of chat_client and chatctl.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chat::text {

// Makes untrusted text safe to write to a terminal: C0 controls and DEL become
// caret notation ("^[" for ESC), C1 controls, bidi embeddings/overrides/isolates
// and every invalid UTF-8 byte become U+FFFD. Everything else is kept as is. The
// result is valid UTF-8 and sanitize(sanitize(s)) == sanitize(s).
std::string sanitize(std::string_view untrusted);

// Appends the inert form of one code point (as sanitize() does) to `out`.
void append_inert(std::string& out, char32_t cp);

// True for what sanitize() replaces: C0, DEL, C1, bidi embedding/override/isolate
// controls, surrogates and values past U+10FFFF.
bool needs_replacement(char32_t cp);

// Terminal columns a code point takes, from Unicode's properties (ICU), independent
// of the locale so that tests and fuzzers see what the programs see: 0 for
// non-spacing and enclosing marks, format characters, default-ignorable code points
// and Hangul medial vowels / final consonants; 2 for East Asian Wide and Fullwidth
// (CJK, Hangul syllables, most emoji); 1 otherwise (controls count as the width of
// their inert form, see display_width).
int code_point_width(char32_t cp);

// Columns of a valid-or-not UTF-8 string once sanitized.
std::size_t display_width(std::string_view text);

}  // namespace chat::text
