// Sanitizer, width table and the course's display formats for every server packet.
#include "client/render.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "protocol/codec.hpp"
#include "protocol/rules.hpp"

namespace chat::client {
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
// (including our own prompt on some terminals), so a peer could disguise a line.
constexpr bool is_bidi_control(char32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

using Range = std::pair<char32_t, char32_t>;

// Zero-width: combining marks, zero-width space/joiners, variation selectors.
constexpr std::array kZeroWidth{
    Range{0x0300, 0x036F},   Range{0x0483, 0x0489},   Range{0x0591, 0x05BD}, Range{0x05BF, 0x05BF},
    Range{0x05C1, 0x05C2},   Range{0x05C4, 0x05C5},   Range{0x05C7, 0x05C7}, Range{0x0610, 0x061A},
    Range{0x064B, 0x065F},   Range{0x0670, 0x0670},   Range{0x06D6, 0x06DC}, Range{0x06DF, 0x06E4},
    Range{0x06E7, 0x06E8},   Range{0x06EA, 0x06ED},   Range{0x0900, 0x0902}, Range{0x093A, 0x093A},
    Range{0x093C, 0x093C},   Range{0x0941, 0x0948},   Range{0x094D, 0x094D}, Range{0x0951, 0x0957},
    Range{0x0E31, 0x0E31},   Range{0x0E34, 0x0E3A},   Range{0x0E47, 0x0E4E}, Range{0x1160, 0x11FF},
    Range{0x1AB0, 0x1AFF},   Range{0x1DC0, 0x1DFF},   Range{0x200B, 0x200F}, Range{0x2060, 0x2064},
    Range{0x20D0, 0x20FF},   Range{0xFE00, 0xFE0F},   Range{0xFE20, 0xFE2F}, Range{0xFEFF, 0xFEFF},
    Range{0xE0001, 0xE007F}, Range{0xE0100, 0xE01EF},
};

// East Asian Wide and Fullwidth, and the emoji blocks terminals draw two columns wide.
constexpr std::array kWide{
    Range{0x1100, 0x115F},   Range{0x231A, 0x231B},   Range{0x2329, 0x232A},
    Range{0x23E9, 0x23EC},   Range{0x23F0, 0x23F0},   Range{0x23F3, 0x23F3},
    Range{0x25FD, 0x25FE},   Range{0x2614, 0x2615},   Range{0x2648, 0x2653},
    Range{0x267F, 0x267F},   Range{0x2693, 0x2693},   Range{0x26A1, 0x26A1},
    Range{0x26AA, 0x26AB},   Range{0x26BD, 0x26BE},   Range{0x26C4, 0x26C5},
    Range{0x26CE, 0x26CE},   Range{0x26D4, 0x26D4},   Range{0x26EA, 0x26EA},
    Range{0x26F2, 0x26F3},   Range{0x26F5, 0x26F5},   Range{0x26FA, 0x26FA},
    Range{0x26FD, 0x26FD},   Range{0x2705, 0x2705},   Range{0x270A, 0x270B},
    Range{0x2728, 0x2728},   Range{0x274C, 0x274C},   Range{0x274E, 0x274E},
    Range{0x2753, 0x2755},   Range{0x2757, 0x2757},   Range{0x2795, 0x2797},
    Range{0x27B0, 0x27B0},   Range{0x27BF, 0x27BF},   Range{0x2B1B, 0x2B1C},
    Range{0x2B50, 0x2B50},   Range{0x2B55, 0x2B55},   Range{0x2E80, 0x303E},
    Range{0x3041, 0x33FF},   Range{0x3400, 0x4DBF},   Range{0x4E00, 0x9FFF},
    Range{0xA000, 0xA4CF},   Range{0xA960, 0xA97F},   Range{0xAC00, 0xD7A3},
    Range{0xF900, 0xFAFF},   Range{0xFE10, 0xFE19},   Range{0xFE30, 0xFE6F},
    Range{0xFF00, 0xFF60},   Range{0xFFE0, 0xFFE6},   Range{0x16FE0, 0x16FE4},
    Range{0x17000, 0x18CFF}, Range{0x1B000, 0x1B2FF}, Range{0x1F004, 0x1F004},
    Range{0x1F0CF, 0x1F0CF}, Range{0x1F18E, 0x1F18E}, Range{0x1F191, 0x1F19A},
    Range{0x1F200, 0x1F251}, Range{0x1F260, 0x1F265}, Range{0x1F300, 0x1F64F},
    Range{0x1F680, 0x1F6FF}, Range{0x1F7E0, 0x1F7EB}, Range{0x1F90C, 0x1F9FF},
    Range{0x1FA70, 0x1FAFF}, Range{0x20000, 0x2FFFD}, Range{0x30000, 0x3FFFD},
};

template <std::size_t N>
bool in_table(const std::array<Range, N>& table, char32_t cp) {
  const auto it = std::upper_bound(table.begin(), table.end(), cp,
                                   [](char32_t c, const Range& r) { return c < r.first; });
  return it != table.begin() && cp <= std::prev(it)->second;
}

// A line whose speaker's nick starts at byte `pos`.
Line spoken(std::string text, std::size_t pos, const std::string& shown_nick,
            bool history = false) {
  Line line{std::move(text), history};
  line.nick_pos = pos;
  line.nick_len = shown_nick.size();
  return line;
}

struct Renderer {
  std::optional<Line> operator()(const proto::Welcome&) const { return std::nullopt; }
  std::optional<Line> operator()(const proto::Chat& p) const {
    const std::string nick = sanitize(p.nick);
    return spoken(nick + ": " + sanitize(p.message), 0, nick, p.history);
  }
  std::optional<Line> operator()(const proto::Join& p) const {
    const std::string nick = sanitize(p.nick);
    // With the rooms cap the room is named: moving between rooms is not arriving.
    return spoken("*** " + nick + " has joined " + (p.room ? sanitize(*p.room) : "the chat"), 4,
                  nick);
  }
  std::optional<Line> operator()(const proto::Leave& p) const {
    const std::string nick = sanitize(p.nick);
    if (p.to) {
      return spoken("*** " + nick + " moved to " + sanitize(*p.to), 4, nick);
    }
    return spoken("*** " + nick + " has left the chat", 4, nick);
  }
  std::optional<Line> operator()(const proto::Dm& p) const {
    const std::string from = sanitize(p.from);
    return spoken(from + " -> " + sanitize(p.to) + ": " + sanitize(p.message), 0, from);
  }
  std::optional<Line> operator()(const proto::Emote& p) const {
    const std::string nick = sanitize(p.nick);
    return spoken("[" + nick + " " + sanitize(p.message) + "]", 1, nick, p.history);
  }
  std::optional<Line> operator()(const proto::WhoReply& p) const {
    std::string text = "*** in " + sanitize(p.room) + ": ";
    for (std::size_t i = 0; i < p.nicks.size(); ++i) {
      text += (i == 0 ? "" : ", ") + sanitize(p.nicks[i]);
    }
    if (p.nicks.empty()) {
      text += "nobody";
    }
    return Line{std::move(text)};
  }
  std::optional<Line> operator()(const proto::RoomsReply& p) const {
    std::string text = "*** rooms: ";
    for (std::size_t i = 0; i < p.rooms.size(); ++i) {
      text += (i == 0 ? "" : ", ") + sanitize(p.rooms[i].name) + " (" +
              std::to_string(p.rooms[i].users) + ")";
    }
    if (p.rooms.empty()) {
      text += "none";
    }
    return Line{std::move(text)};
  }
  std::optional<Line> operator()(const proto::Info& p) const {
    return Line{"*** " + sanitize(p.message)};
  }
  std::optional<Line> operator()(const proto::Error& p) const {
    return Line{"*** error: " + sanitize(p.message) + " (" + sanitize(p.code) + ")"};
  }
};

}  // namespace

void append_inert(std::string& out, char32_t cp) {
  if (cp < 0x20) {
    out += '^';
    out += static_cast<char>(cp + 0x40);  // ESC -> "^[", NUL -> "^@"
  } else if (cp == 0x7F) {
    out += "^?";
  } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp) || cp > 0x10FFFF ||
             (cp >= 0xD800 && cp <= 0xDFFF)) {
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
    return 1;
  }
  if (in_table(kZeroWidth, cp)) {
    return 0;
  }
  return in_table(kWide, cp) ? 2 : 1;
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

std::optional<Line> render(const proto::ServerPacket& packet) {
  return std::visit(Renderer{}, packet);
}

std::optional<Line> render_payload(std::string_view payload) {
  auto decoded = proto::decode_server(payload);
  if (const auto* packet = std::get_if<proto::ServerPacket>(&decoded)) {
    return render(*packet);
  }
  return std::nullopt;
}

}  // namespace chat::client
