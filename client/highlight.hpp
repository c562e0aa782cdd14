// Mentions (whole-word, ASCII case-insensitive) and the stable colour of a nick.
#pragma once

#include <string_view>

namespace chat::client {

// True when `text` names `nick` as a whole word: "pat", "@pat:", "hi pat!" but not
// "patrick" or "spat". Letters fold as nicks compare (ASCII only).
bool mentions(std::string_view text, std::string_view nick);

// An SGR foreground colour (31..36, 91..96) chosen from a hash of the nick's
// comparison key, so a nick keeps its colour across sessions and spellings.
int nick_colour(std::string_view nick);

}  // namespace chat::client
