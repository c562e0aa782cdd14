// Rules: strict UTF-8, nick / room / message rules and the nick comparison key.
#include "protocol/rules.hpp"

#include <gtest/gtest.h>

#include <string>

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

TEST(NickKey, FoldsAsciiLettersOnly) {
  EXPECT_EQ(nick_key("Pat"), "pat");
  EXPECT_EQ(nick_key("pAT"), nick_key("Pat"));
  EXPECT_EQ(nick_key("ABCXYZ_09-z"), "abcxyz_09-z");
  EXPECT_NE(nick_key("É"), nick_key("é"));
  EXPECT_EQ(nick_key("É"), "É");
  EXPECT_EQ(nick_key("小明"), "小明");
  // '[' and '@' border the ASCII upper-case range and are not letters.
  EXPECT_EQ(nick_key("[@]"), "[@]");
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
  };
  for (const auto& [code, name] : table) {
    EXPECT_EQ(error_name(code), name);
    EXPECT_EQ(error_from_name(name), code);
  }
  EXPECT_EQ(error_from_name("no-such-code"), std::nullopt);
}

}  // namespace
}  // namespace chat::proto
