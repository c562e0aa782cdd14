// Unit tests for the keyboard decoder.
#include "client/keys.hpp"

#include <gtest/gtest.h>

namespace chat::client {
namespace {

using K = Key::Kind;

std::vector<Key> text(const std::u32string& s) {
  std::vector<Key> keys;
  for (char32_t c : s) {
    keys.push_back(Key{K::kText, c});
  }
  return keys;
}

TEST(ClientKeys, TextAndUtf8) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("a中😀"), text(U"a中😀"));
}

TEST(ClientKeys, Utf8SplitAcrossReads) {
  KeyDecoder d;
  EXPECT_TRUE(d.feed("\xe4\xb8").empty());
  EXPECT_TRUE(d.pending());
  EXPECT_EQ(d.feed("\xad"), text(U"中"));
  EXPECT_FALSE(d.pending());
}

TEST(ClientKeys, ControlKeys) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("\r\x7f\x08\x03\x04\x01\x05\x15\x17\x0b\t\x0c"),
            (std::vector<Key>{{K::kEnter},
                              {K::kBackspace},
                              {K::kBackspace},
                              {K::kInterrupt},
                              {K::kEof},
                              {K::kHome},
                              {K::kEnd},
                              {K::kKillToStart},
                              {K::kKillWord},
                              {K::kKillToEnd},
                              {K::kTab},
                              {K::kRedraw}}));
}

TEST(ClientKeys, CsiAndSs3Sequences) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F\x1bOH\x1bOF\x1b[1~\x1b[4~\x1b[3~"),
            (std::vector<Key>{{K::kUp},
                              {K::kDown},
                              {K::kRight},
                              {K::kLeft},
                              {K::kHome},
                              {K::kEnd},
                              {K::kHome},
                              {K::kEnd},
                              {K::kHome},
                              {K::kEnd},
                              {K::kDelete}}));
}

TEST(ClientKeys, SequenceSplitAcrossReadsAndUnknownOnesIgnored) {
  KeyDecoder d;
  EXPECT_TRUE(d.feed("\x1b").empty());
  EXPECT_TRUE(d.feed("[").empty());
  EXPECT_EQ(d.feed("1;5D"), (std::vector<Key>{{K::kLeft}}));
  EXPECT_EQ(d.feed("\x1b[15~x"), text(U"x"));  // F5: ignored
}

TEST(ClientKeys, LoneEscapeIsDroppedOnFlush) {
  KeyDecoder d;
  EXPECT_TRUE(d.feed("\x1b").empty());
  EXPECT_TRUE(d.pending());
  d.flush();
  EXPECT_EQ(d.feed("a"), text(U"a"));
}

TEST(ClientKeys, InvalidBytesAreSkipped) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("\xff"
                   "a\x80"
                   "b"),
            text(U"ab"));
}

}  // namespace
}  // namespace chat::client

namespace chat::client {
namespace {

TEST(ClientKeys, PageKeysWithAndWithoutShift) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("\x1b[5~\x1b[6~\x1b[5;2~"),
            (std::vector<Key>{Key{K::kPageUp}, Key{K::kPageDown}, Key{K::kPageUp}}));
}

TEST(ClientKeys, AltKeysAreConsumedNotTyped) {
  KeyDecoder d;
  EXPECT_EQ(d.feed("\x1b"
                   "b"
                   "\x1b\xc3\xa9x"),
            text(U"x"));
  EXPECT_EQ(d.feed("\x1b\x1b[A"), (std::vector<Key>{Key{K::kUp}}));
}

TEST(ClientKeys, BracketedPasteIsOneTextKeyEvenAcrossReads) {
  KeyDecoder d;
  EXPECT_TRUE(d.feed("\x1b[200~a\tb\r").empty());
  EXPECT_FALSE(d.pending());  // no escape timeout may cut a slow paste
  d.flush();
  EXPECT_EQ(d.feed("c\x1b[201~z"),
            (std::vector<Key>{Key{K::kPaste, 0, "a\tb\rc"}, Key{K::kText, U'z'}}));
}

}  // namespace
}  // namespace chat::client
