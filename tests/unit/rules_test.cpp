// Rules: strict UTF-8, nick / room / message rules and the nick comparison key.
#include "protocol/rules.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/errors.hpp"

namespace chat::proto {
namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) {
    s.push_back(static_cast<char>(b));
  }
  return s;
}

// The UTF-8 encoding of one code point (no validation: used to build test input).
std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    s.push_back(static_cast<char>(0xc0 | (c >> 6)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    s.push_back(static_cast<char>(0xe0 | (c >> 12)));
    s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    s.push_back(static_cast<char>(0xf0 | (c >> 18)));
    s.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
  return s;
}

TEST(Utf8, AcceptsValidText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("é ü ß"));
  EXPECT_TRUE(is_valid_utf8("你好，世界"));
  EXPECT_TRUE(is_valid_utf8("🎉👍🏽"));
  EXPECT_TRUE(is_valid_utf8(utf8(0x10ffff)));
  EXPECT_TRUE(is_valid_utf8(utf8(0xd7ff)));
  EXPECT_TRUE(is_valid_utf8(utf8(0xe000)));
  EXPECT_TRUE(is_valid_utf8(utf8(0xfffd)));
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8
}

TEST(Utf8, DecodesCodePointsAndAdvances) {
  const std::string s = "a" + utf8(0xe9) + utf8(0x4f60) + utf8(0x1f389);
  std::size_t i = 0;
  EXPECT_EQ(next_code_point(s, i), U'a');
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(next_code_point(s, i), char32_t{0xe9});
  EXPECT_EQ(i, 3u);
  EXPECT_EQ(next_code_point(s, i), char32_t{0x4f60});
  EXPECT_EQ(i, 6u);
  EXPECT_EQ(next_code_point(s, i), char32_t{0x1f389});
  EXPECT_EQ(i, 10u);
  EXPECT_EQ(next_code_point(s, i), std::nullopt);
  EXPECT_EQ(i, 10u);
}

TEST(Utf8, RejectsOverlongEncodings) {
  EXPECT_FALSE(is_valid_utf8(bytes({0xc0, 0x80})));  // U+0000 in two bytes
  EXPECT_FALSE(is_valid_utf8(bytes({0xc0, 0xaf})));  // '/' in two bytes
  EXPECT_FALSE(is_valid_utf8(bytes({0xc1, 0xbf})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xe0, 0x80, 0xaf})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xe0, 0x9f, 0xbf})));  // U+07FF in three bytes
  EXPECT_FALSE(is_valid_utf8(bytes({0xf0, 0x80, 0x80, 0xaf})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xf0, 0x8f, 0xbf, 0xbf})));  // U+FFFF in four bytes
}

TEST(Utf8, RejectsSurrogates) {
  EXPECT_FALSE(is_valid_utf8(bytes({0xed, 0xa0, 0x80})));  // U+D800
  EXPECT_FALSE(is_valid_utf8(bytes({0xed, 0xaf, 0xbf})));  // U+DBFF
  EXPECT_FALSE(is_valid_utf8(bytes({0xed, 0xb0, 0x80})));  // U+DC00
  EXPECT_FALSE(is_valid_utf8(bytes({0xed, 0xbf, 0xbf})));  // U+DFFF
  // A CESU-8 style pair is two surrogates, not one code point.
  EXPECT_FALSE(is_valid_utf8(bytes({0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80})));
}

TEST(Utf8, RejectsAboveU10FFFF) {
  EXPECT_FALSE(is_valid_utf8(bytes({0xf4, 0x90, 0x80, 0x80})));  // U+110000
  EXPECT_FALSE(is_valid_utf8(bytes({0xf5, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xf7, 0xbf, 0xbf, 0xbf})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xf8, 0x88, 0x80, 0x80, 0x80})));  // 5-byte form
  EXPECT_FALSE(is_valid_utf8(bytes({0xfc, 0x84, 0x80, 0x80, 0x80, 0x80})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xfe})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xff})));
}

TEST(Utf8, RejectsTruncatedSequences) {
  EXPECT_FALSE(is_valid_utf8(bytes({0xc3})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xe4, 0xbd})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xf0, 0x9f, 0x8e})));
  EXPECT_FALSE(is_valid_utf8("ok" + bytes({0xe4, 0xbd})));
  // A lead byte followed by a non-continuation byte.
  EXPECT_FALSE(is_valid_utf8(bytes({0xc3, 0x41})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xe4, 0xbd, 0x41})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xf0, 0x9f, 0x8e, 0x41})));
}

TEST(Utf8, RejectsLoneContinuationBytes) {
  EXPECT_FALSE(is_valid_utf8(bytes({0x80})));
  EXPECT_FALSE(is_valid_utf8(bytes({0xbf})));
  EXPECT_FALSE(is_valid_utf8("a" + bytes({0x80}) + "b"));
}

TEST(Utf8, FailedDecodeLeavesIndexUnchanged) {
  const std::string s = "a" + bytes({0xe4, 0xbd});
  std::size_t i = 1;
  EXPECT_EQ(next_code_point(s, i), std::nullopt);
  EXPECT_EQ(i, 1u);
}

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(code_point_count(""), 0u);
  EXPECT_EQ(code_point_count("abc"), 3u);
  EXPECT_EQ(code_point_count("你好"), 2u);
  EXPECT_EQ(code_point_count("a🎉é"), 3u);
}

TEST(Controls, RangesAreC0DelAndC1) {
  for (char32_t c = 0; c < 0x20; ++c) {
    EXPECT_TRUE(is_control(c)) << static_cast<unsigned>(c);
  }
  for (char32_t c = 0x7f; c <= 0x9f; ++c) {
    EXPECT_TRUE(is_control(c)) << static_cast<unsigned>(c);
  }
  EXPECT_FALSE(is_control(0x20));
  EXPECT_FALSE(is_control(0x7e));
  EXPECT_FALSE(is_control(0xa0));
}

TEST(Nick, AcceptsOrdinaryNicks) {
  EXPECT_TRUE(is_valid_nick("pat"));
  EXPECT_TRUE(is_valid_nick("Pat_99"));
  EXPECT_TRUE(is_valid_nick("a"));
  EXPECT_TRUE(is_valid_nick("x-y.z"));
  EXPECT_TRUE(is_valid_nick("Éloïse"));
  EXPECT_TRUE(is_valid_nick("小明"));
  EXPECT_TRUE(is_valid_nick("🎉"));
}

TEST(Nick, LengthIsCountedInCodePoints) {
  EXPECT_TRUE(is_valid_nick(std::string(32, 'a')));
  EXPECT_FALSE(is_valid_nick(std::string(33, 'a')));
  std::string cjk32;
  for (int i = 0; i < 32; ++i) {
    cjk32 += "汉";  // 3 bytes each: 96 bytes, 32 code points
  }
  EXPECT_TRUE(is_valid_nick(cjk32));
  EXPECT_FALSE(is_valid_nick(cjk32 + "汉"));
  std::string emoji32;
  for (int i = 0; i < 32; ++i) {
    emoji32 += "🎉";
  }
  EXPECT_TRUE(is_valid_nick(emoji32));
  EXPECT_FALSE(is_valid_nick(emoji32 + "a"));
}

TEST(Nick, RejectsEmpty) {
  EXPECT_FALSE(is_valid_nick(""));
}

TEST(Nick, RejectsEachForbiddenPunctuation) {
  for (const char c : std::string(":/*@,#!")) {
    EXPECT_FALSE(is_valid_nick(std::string("pa") + c + "t")) << c;
    EXPECT_FALSE(is_valid_nick(std::string(1, c))) << c;
  }
}

TEST(Nick, RejectsWhitespace) {
  for (char32_t c : {0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2005, 0x200a,
                     0x2028, 0x2029, 0x202f, 0x205f, 0x3000}) {
    EXPECT_FALSE(is_valid_nick("pa" + utf8(c) + "t")) << std::hex << static_cast<unsigned>(c);
    EXPECT_TRUE(is_unicode_space(c) || is_control(c)) << std::hex << static_cast<unsigned>(c);
  }
  EXPECT_FALSE(is_unicode_space('a'));
  EXPECT_FALSE(is_unicode_space(0x200b));  // zero width space is not White_Space
}

TEST(Nick, RejectsControlCharacters) {
  for (char32_t c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(is_valid_nick("pa" + utf8(c) + "t")) << static_cast<unsigned>(c);
  }
  for (char32_t c = 0x7f; c <= 0x9f; ++c) {
    EXPECT_FALSE(is_valid_nick("pa" + utf8(c) + "t")) << static_cast<unsigned>(c);
  }
}

TEST(Nick, RejectsInvalidUtf8) {
  EXPECT_FALSE(is_valid_nick("pa" + bytes({0xff}) + "t"));
  EXPECT_FALSE(is_valid_nick(bytes({0xed, 0xa0, 0x80})));
  EXPECT_FALSE(is_valid_nick(bytes({0xc0, 0xaf})));
}

TEST(Room, FollowsNickRules) {
  EXPECT_TRUE(is_valid_room("lobby"));
  EXPECT_TRUE(is_valid_room("游戏"));
  EXPECT_FALSE(is_valid_room(""));
  EXPECT_FALSE(is_valid_room("#games"));
  EXPECT_FALSE(is_valid_room("two words"));
  EXPECT_FALSE(is_valid_room(std::string(33, 'r')));
}

TEST(Message, AcceptsText) {
  EXPECT_TRUE(is_valid_message("hi"));
  EXPECT_TRUE(is_valid_message("oh no!! :) / * @ , # !"));  // punctuation is fine here
  EXPECT_TRUE(is_valid_message("  spaces and\u3000ideographic space  "));
  EXPECT_TRUE(is_valid_message("你好 🎉"));
  EXPECT_TRUE(is_valid_message(std::string(65000, 'm')));
  EXPECT_TRUE(is_valid_message(utf8(0xa0)));
}

TEST(Message, RejectsEmpty) {
  EXPECT_FALSE(is_valid_message(""));
}

TEST(Message, RejectsControlCharacters) {
  for (char32_t c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(is_valid_message("a" + utf8(c) + "b")) << static_cast<unsigned>(c);
  }
  for (char32_t c = 0x7f; c <= 0x9f; ++c) {
    EXPECT_FALSE(is_valid_message("a" + utf8(c) + "b")) << static_cast<unsigned>(c);
  }
  EXPECT_FALSE(is_valid_message("\x1b[2J"));
}

TEST(Message, RejectsInvalidUtf8) {
  EXPECT_FALSE(is_valid_message("a" + bytes({0xe4, 0xbd})));
  EXPECT_FALSE(is_valid_message(bytes({0xed, 0xb0, 0x80})));
}

TEST(NickKey, FoldsCaseAndNormalizes) {
  EXPECT_EQ(nick_key("Pat"), nick_key("pat"));
  EXPECT_EQ(nick_key("pAT"), nick_key("Pat"));
  EXPECT_EQ(nick_key("pat"), "pat");
  EXPECT_EQ(nick_key("É"), nick_key("é"));             // Unicode case folding
  EXPECT_EQ(nick_key("e\u0301"), nick_key("é"));       // NFC: decomposed and precomposed meet
  EXPECT_EQ(nick_key("Straße"), nick_key("STRASSE"));  // full case folding
  EXPECT_EQ(nick_key("小明"), "小明");
  EXPECT_NE(nick_key("pat"), nick_key("pet"));
  EXPECT_NE(nick_key("pat"), nick_key("pát"));  // an accent that shows is a different name
  EXPECT_NE(nick_key("小明"), nick_key("小朋"));
}

TEST(NickKey, ConfusablesShareOneSkeleton) {
  EXPECT_EQ(nick_key("p\u0430t"), nick_key("pat"));            // Cyrillic а
  EXPECT_EQ(nick_key("\u0440\u0430t"), nick_key("pat"));       // Cyrillic р and а
  EXPECT_EQ(nick_key("\uff50\uff41\uff54"), nick_key("pat"));  // fullwidth ｐａｔ
  EXPECT_EQ(nick_key("\uff30\uff21\uff34"), nick_key("pat"));  // fullwidth ＰＡＴ
  EXPECT_EQ(nick_key("CHRIS"), nick_key("chris"));             // case first: capital I is i, not l
  EXPECT_EQ(nick_key("paul"), nick_key("PAU1"));               // 1 and l
  EXPECT_EQ(nick_key("pat1"), nick_key("patl"));               // 1 and l
  EXPECT_EQ(nick_key("bo0"), nick_key("boo"));                 // 0 and o
  EXPECT_EQ(nick_key("barn"), nick_key("bam"));                // rn and m
  EXPECT_EQ(nick_key("lobby"), nick_key("\uff4c\uff4f\uff42\uff42\uff59"));
  EXPECT_EQ(room_key("Lobby"), room_key("lobby"));
}

TEST(NickKey, IsDefinedForAnyInput) {
  EXPECT_EQ(nick_key(""), "");
  const std::string bad = "pa" + bytes({0xff}) + "t";
  EXPECT_EQ(nick_key(bad), "\xff" + bad);  // never the key of a valid nick
  EXPECT_EQ(nick_key(bad), nick_key(bad));
}

TEST(AsciiFold, FoldsAsciiLettersOnly) {
  EXPECT_EQ(ascii_fold("ABCXYZ_09-z"), "abcxyz_09-z");
  EXPECT_EQ(ascii_fold("É"), "É");
  // '[' and '@' border the ASCII upper-case range and are not letters.
  EXPECT_EQ(ascii_fold("[@]"), "[@]");
}

// Issue 10 item 7: each look-alike of `pat` seen accepted, and what it gets now.
struct LookAlike {
  const char* what;
  std::string nick;
  bool valid;  // valid, and then colliding with pat; otherwise refused outright
};

std::vector<LookAlike> look_alikes() {
  return {
      {"Cyrillic a", "p\u0430t", true},
      {"zero width space", "pa\u200bt", false},
      {"zero width joiner", "pa\u200dt", false},
      {"zero width non-joiner", "pa\u200ct", false},
      {"word joiner", "pa\u2060t", false},
      {"byte order mark", "pa\ufefft", false},
      {"byte order mark first", "\ufeffpat", false},
      {"soft hyphen", "pa\u00adt", false},
      {"combining grapheme joiner", "pa\u034ft", false},
      {"combining acute on t (no precomposed form)", "pat\u0301", false},
      {"combining long stroke overlay", "pat\u0336", false},
      {"combining enclosing circle", "pat\u20dd", false},
      {"the same mark twice", "pa\u0301\u0301t", false},
      {"leading combining mark", "\u0301pat", false},
      {"right-to-left override", "\u202etap", false},
      {"left-to-right isolate", "pa\u2066t\u2069", false},
      {"right-to-left mark", "pat\u200f", false},
      {"arabic letter mark", "pat\u061c", false},
      {"tag characters", "pat\U000e0070\U000e0061\U000e0074", false},
      {"variation selector", "pat\ufe0f", false},
      {"fullwidth", "\uff50\uff41\uff54", true},
      {"Hangul filler", "pat\u3164", false},
      {"halfwidth Hangul filler", "pat\uffa0", false},
      {"Hangul choseong filler", "pat\u115f", false},
      {"Hangul jungseong filler", "pat\u1160", false},
      {"Braille blank", "pat\u2800", false},
      {"fullwidth asterisks (operator info)", "\uff0a\uff0a\uff0a", false},
      {"small asterisk", "\ufe61\ufe61\ufe61", false},
      {"asterisk operator", "\u2217\u2217\u2217", false},
      {"fullwidth colon", "pat\uff1a", false},
      {"ratio (colon look-alike)", "pat\u2236", false},
      {"division slash", "pat\u2215x", false},
      {"DM look-alike with Braille blanks", "pat\u2800->\u2800chris", false},
      {"DM arrow without blanks", "pat->chris", false},
      {"reversed arrow", "chris<-pat", false},
      {"fullwidth arrow", "pat\uff0d\uff1echris", false},
      {"ideographic space", "pat\u3000", false},
      {"private use", "pat\ue000", false},
      {"unassigned", "pat\U000e0080", false},
      {"noncharacter", "pat\ufdd0", false},
      {"replacement character", "pat\ufffd", false},
  };
}

TEST(Nick, LookAlikesOfPatAreRefusedOrCollide) {
  for (const auto& l : look_alikes()) {
    if (l.valid) {
      EXPECT_TRUE(is_valid_nick(l.nick)) << l.what;
      EXPECT_EQ(nick_key(l.nick), nick_key("pat")) << l.what;
    } else {
      EXPECT_FALSE(is_valid_nick(l.nick)) << l.what;
    }
  }
}

TEST(Nick, OrdinaryNamesStayValid) {
  for (const std::string nick :
       {"pat", "Pat_99", "x-y.z",   "a>b",   "<3",   "é",      "e\u0301",  "Éloïse",   "Zoë",
        "王",  "小明",   "саша",    "Ελένη", "José", "Nguyễn", "ひらがな", "カタカナ", "한국어",
        "דוד", "محمد",   "देवनागरी", "दुःख",   "ไทย",  "🎉",      "pat🎉",     "ｶﾞｷ"}) {
    EXPECT_TRUE(is_valid_nick(nick)) << nick;
  }
  // Each stands alone: a Cyrillic nick does not collide with a Latin one that differs.
  EXPECT_NE(nick_key("саша"), nick_key("sasha"));
  EXPECT_NE(nick_key("王"), nick_key("玉"));
}

// What changed for existing nicks (PROTOCOL-DECISIONS.md 26), pinned as documented.
TEST(Nick, FormerlyValidNicksNowRefusedOrColliding) {
  EXPECT_FALSE(is_valid_nick("\u2764\ufe0f"));                // ❤️ with VS16
  EXPECT_TRUE(is_valid_nick("\u2764"));                       // ❤
  EXPECT_FALSE(is_valid_nick("\U0001f469\u200d\U0001f4bb"));  // 👩‍💻 (ZWJ)
  EXPECT_FALSE(is_valid_nick("\u1eb9\u0301"));                // Yoruba ẹ́
  EXPECT_EQ(nick_key("\u03a3"), nick_key("\u03c3"));          // Σ σ
  EXPECT_EQ(nick_key("\u03c2"), nick_key("\u03c3"));          // ς σ
  EXPECT_EQ(nick_key("\ufb01x"), nick_key("fix"));            // ﬁ
  EXPECT_NE(nick_key("PAUI"), nick_key("paul"));              // capital I folds to i first
}

TEST(Room, LookAlikesOfLobbyAreRefusedOrTheSameRoom) {
  EXPECT_FALSE(is_valid_room("lobby\u200b"));
  EXPECT_FALSE(is_valid_room("lob\u00adby"));
  EXPECT_FALSE(is_valid_room("\u202eybbol"));
  EXPECT_TRUE(is_valid_room("\u217cobby"));  // small roman numeral fifty
  EXPECT_EQ(room_key("\u217cobby"), room_key("lobby"));
  EXPECT_EQ(room_key("l\u043ebby"), room_key("lobby"));  // Cyrillic о
  EXPECT_NE(room_key("games"), room_key("lobby"));
}

TEST(ErrorNames, RoundTripEveryCode) {
  const std::pair<ErrorCode, const char*> table[] = {
      {ErrorCode::kBadPacket, "bad-packet"},
      {ErrorCode::kHelloRequired, "hello-required"},
      {ErrorCode::kNickInvalid, "nick-invalid"},
      {ErrorCode::kNickTaken, "nick-taken"},
      {ErrorCode::kBadMessage, "bad-message"},
      {ErrorCode::kBadRoom, "bad-room"},
      {ErrorCode::kUnknownType, "unknown-type"},
      {ErrorCode::kNoSuchNick, "no-such-nick"},
      {ErrorCode::kHelloTimeout, "hello-timeout"},
      {ErrorCode::kServerFull, "server-full"},
      {ErrorCode::kFlood, "flood"},
      {ErrorCode::kKicked, "kicked"},
      {ErrorCode::kAuthFailed, "auth-failed"},
      {ErrorCode::kTlsRequired, "tls-required"},
      {ErrorCode::kClusterUnavailable, "cluster-unavailable"},
  };
  for (const auto& [code, name] : table) {
    EXPECT_EQ(error_name(code), name);
    EXPECT_EQ(error_from_name(name), code);
  }
  EXPECT_EQ(error_from_name("no-such-code"), std::nullopt);
}

}  // namespace
}  // namespace chat::proto
