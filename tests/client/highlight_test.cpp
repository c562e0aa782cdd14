// Unit tests for mention matching and nick colours.
#include "client/highlight.hpp"

#include <gtest/gtest.h>

namespace chat::client {
namespace {

TEST(ClientHighlight, MentionsAreWholeWordsAnyAsciiCase) {
  EXPECT_TRUE(mentions("pat", "pat"));
  EXPECT_TRUE(mentions("hey PAT, look", "pat"));
  EXPECT_TRUE(mentions("@pat: hi", "pat"));
  EXPECT_TRUE(mentions("ok pat!", "Pat"));
  EXPECT_FALSE(mentions("patrick", "pat"));
  EXPECT_FALSE(mentions("spat", "pat"));
  EXPECT_FALSE(mentions("pat_2 is here", "pat"));
  EXPECT_FALSE(mentions("pâté", "pat"));
  EXPECT_TRUE(mentions("spat pat", "pat"));  // a later occurrence counts
  EXPECT_FALSE(mentions("anything", ""));
}

TEST(ClientHighlight, NickColoursAreStableAndFoldCase) {
  EXPECT_EQ(nick_colour("chris"), nick_colour("chris"));
  EXPECT_EQ(nick_colour("Chris"), nick_colour("chris"));
  int distinct = 0;
  const int first = nick_colour("a");
  for (const char* n : {"b", "c", "d", "e", "f", "g"}) {
    distinct += nick_colour(n) != first ? 1 : 0;
    const int c = nick_colour(n);
    EXPECT_TRUE((c >= 31 && c <= 36) || (c >= 91 && c <= 96)) << c;
  }
  EXPECT_GT(distinct, 0);
}

}  // namespace
}  // namespace chat::client
