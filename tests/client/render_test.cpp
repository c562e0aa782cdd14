// Unit tests for the sanitizer, the width table and the display formats.
#include "client/render.hpp"

#include <gtest/gtest.h>

namespace chat::client {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(ClientRender, SanitizeKeepsOrdinaryTextIncludingCjkAndEmoji) {
  EXPECT_EQ(sanitize("Hello? 你好 😀 é"), "Hello? 你好 😀 é");
}

TEST(ClientRender, SanitizeShowsC0ControlsAndDelInCaretNotation) {
  EXPECT_EQ(sanitize("\x1b[2J"), "^[[2J");
  EXPECT_EQ(sanitize(std::string("a\0b", 3)), "a^@b");
  EXPECT_EQ(sanitize("\r\n\t\x07\x7f"), "^M^J^I^G^?");
}

TEST(ClientRender, SanitizeReplacesC1ControlsAndBidiControls) {
  EXPECT_EQ(sanitize("\xc2\x9b"
                     "31m"),
            kFffd + "31m");
  EXPECT_EQ(sanitize("\xc2\x80\xc2\x9f"), kFffd + kFffd);
  EXPECT_EQ(sanitize("a\xe2\x80\xae"
                     "b"),
            "a" + kFffd + "b");  // U+202E RLO
  EXPECT_EQ(sanitize("\xe2\x80\xaa\xe2\x81\xa6\xe2\x81\xa9"), kFffd + kFffd + kFffd);
  EXPECT_EQ(sanitize("\xe2\x80\x8f"), "\xe2\x80\x8f");  // RLM is a mark, not an override
}

TEST(ClientRender, SanitizeReplacesEveryInvalidUtf8Byte) {
  EXPECT_EQ(sanitize("a\xff"
                     "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(sanitize("\xc0\xaf"), kFffd + kFffd);              // overlong '/'
  EXPECT_EQ(sanitize("\xed\xa0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(sanitize("\xe4\xbd"), kFffd + kFffd);              // truncated
}

TEST(ClientRender, SanitizedTextNeverHoldsControlBytes) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  for (unsigned char c : sanitize(all)) {
    EXPECT_FALSE(c < 0x20 || c == 0x7f) << int(c);
  }
}

TEST(ClientRender, WidthsOfAsciiCjkEmojiAndCombiningMarks) {
  EXPECT_EQ(code_point_width(U'a'), 1);
  EXPECT_EQ(code_point_width(U'中'), 2);
  EXPECT_EQ(code_point_width(U'한'), 2);
  EXPECT_EQ(code_point_width(U'😀'), 2);
  EXPECT_EQ(code_point_width(U'\u0301'), 0);
  EXPECT_EQ(code_point_width(U'é'), 1);
  EXPECT_EQ(display_width("pat> 中文😀"), 11u);
  EXPECT_EQ(display_width("\x1b"), 2u);  // shown as "^["
}

TEST(ClientRender, CourseFormatsForChatJoinLeave) {
  EXPECT_EQ(render(proto::Chat{"pat", "Hello?", false})->text, "pat: Hello?");
  EXPECT_EQ(render(proto::Join{"pat", std::nullopt})->text, "*** pat has joined the chat");
  EXPECT_EQ(render(proto::Leave{"chris", "lobby"})->text, "*** chris has left the chat");
}

TEST(ClientRender, ErrorShowsMessageAndCode) {
  EXPECT_EQ(render(proto::Error{"nick-taken", "nick already taken"})->text,
            "*** error: nick already taken (nick-taken)");
}

TEST(ClientRender, ExtensionFormats) {
  EXPECT_EQ(render(proto::Dm{"pat", "chris", "how's it going?"})->text,
            "pat -> chris: how's it going?");
  EXPECT_EQ(render(proto::Emote{"pat", "goes out to buy some snacky cakes", false})->text,
            "[pat goes out to buy some snacky cakes]");
  EXPECT_EQ(render(proto::Info{"server shutting down"})->text, "*** server shutting down");
  EXPECT_EQ(render(proto::WhoReply{"lobby", {"leslie", "pat"}})->text, "*** in lobby: leslie, pat");
  EXPECT_EQ(render(proto::RoomsReply{{{"games", 2}, {"lobby", 0}}})->text,
            "*** rooms: games (2), lobby (0)");
  const auto history = render(proto::Chat{"pat", "old", true});
  EXPECT_TRUE(history->history);
  EXPECT_FALSE(render(proto::Welcome{"pat", "chatd/1", {}, "lobby"}).has_value());
}

TEST(ClientRender, EveryFieldIsSanitized) {
  EXPECT_EQ(render(proto::Chat{"\x1b[H", "\x1b]0;t\x07", false})->text, "^[[H: ^[]0;t^G");
  EXPECT_EQ(render(proto::Error{"\x1b", "\x9b"})->text, "*** error: " + kFffd + " (^[)");
  EXPECT_EQ(render(proto::Dm{"a\n", "b\r", "c"})->text, "a^J -> b^M: c");
}

TEST(ClientRender, PayloadsThatAreMalformedOrUnknownAreNotShown) {
  EXPECT_EQ(render_payload(R"({"type":"chat","nick":"pat","message":"hi"})")->text, "pat: hi");
  EXPECT_EQ(render_payload(R"({"type":"chat","nick":"pat","message":"\u001b[2J"})")->text,
            "pat: ^[[2J");
  EXPECT_FALSE(render_payload(R"({"type":"future-thing","x":1})").has_value());
  EXPECT_FALSE(render_payload("not json").has_value());
  EXPECT_FALSE(render_payload("{\"type\":\"chat\",\"nick\":\"a\",\"message\":\"\xff\"}"));
  EXPECT_FALSE(render_payload(R"({"type":"chat","nick":"pat"})").has_value());
}

}  // namespace
}  // namespace chat::client
