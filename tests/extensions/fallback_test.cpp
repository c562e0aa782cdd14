// Every fallback, for legacy connections and for modern ones without the cap; part 1 bytes where
// PROTOCOL-DECISIONS.md fixes them (join/leave without room).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/extensions/ext_support.hpp"
#include "tests/service/service_fixture.hpp"

namespace chat::test::ext {
namespace {

using Fallback = svc::ServiceTest;
using svc::next_raw;

TEST_P(Fallback, EveryEventReachesLegacyAndCaplessConnectionsInItsFallbackForm) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient sam = join_modern(port(), "sam");  // every cap: the native side
  TestClient leg = join("leg");                 // legacy
  TestClient bare = join_modern(port(), "bare", {});
  // Modern with every cap but the one each event needs is covered by `bare` (no caps)
  // and by `part` (all but dm, emote and rooms).
  TestClient part = join_modern(port(), "part", {"who", "info", "history"});
  ASSERT_TRUE(sam && leg && bare && part);
  ASSERT_TRUE(next_raw(leg, R"({"type":"join","nick":"bare"})"));
  ASSERT_TRUE(next_raw(leg, R"({"type":"join","nick":"part"})"));
  ASSERT_TRUE(next_raw(bare, R"({"type":"join","nick":"part"})"));
  for (const std::string nick : {"leg", "bare", "part"}) {
    ASSERT_TRUE(next_exactly(sam, "join", {{"nick", nick}, {"room", "lobby"}}));
  }
  const std::vector<TestClient*> fallbacks{&leg, &bare, &part};

  // join (rooms): part 1 bytes, no room member.
  TestClient newcomer = join_modern(port(), "newcomer");
  ASSERT_TRUE(newcomer);
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_raw(*c, R"({"type":"join","nick":"newcomer"})"));
  }
  EXPECT_TRUE(next_exactly(sam, "join", {{"nick", "newcomer"}, {"room", "lobby"}}));

  // dm to each: chat from "sam -> NICK"; sam gets its native echo.
  for (const std::string nick : {"leg", "bare", "part"}) {
    ASSERT_TRUE(sam.send_packet(dm_json(nick, "psst " + nick)));
    EXPECT_TRUE(
        next_exactly(sam, "dm", {{"from", "sam"}, {"to", nick}, {"message", "psst " + nick}}));
  }
  EXPECT_TRUE(next_exactly(leg, "chat", {{"nick", "sam -> leg"}, {"message", "psst leg"}}));
  EXPECT_TRUE(next_exactly(bare, "chat", {{"nick", "sam -> bare"}, {"message", "psst bare"}}));
  EXPECT_TRUE(next_exactly(part, "chat", {{"nick", "sam -> part"}, {"message", "psst part"}}));

  // dm from a sender without the cap: the recipient's native dm, the sender's echo as chat.
  ASSERT_TRUE(leg.send_packet(dm_json("sam", "from legacy")));
  EXPECT_TRUE(
      next_exactly(sam, "dm", {{"from", "leg"}, {"to", "sam"}, {"message", "from legacy"}}));
  EXPECT_TRUE(next_exactly(leg, "chat", {{"nick", "leg -> sam"}, {"message", "from legacy"}}));
  ASSERT_TRUE(bare.send_packet(dm_json("leg", "capless to legacy")));
  EXPECT_TRUE(
      next_exactly(leg, "chat", {{"nick", "bare -> leg"}, {"message", "capless to legacy"}}));
  EXPECT_TRUE(
      next_exactly(bare, "chat", {{"nick", "bare -> leg"}, {"message", "capless to legacy"}}));

  // emote: chat from "*" with "NICK action".
  ASSERT_TRUE(sam.send_packet(emote_json("waves")));
  EXPECT_TRUE(next_exactly(sam, "emote", {{"nick", "sam"}, {"message", "waves"}}));
  EXPECT_TRUE(next_exactly(newcomer, "emote", {{"nick", "sam"}, {"message", "waves"}}));
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_exactly(*c, "chat", {{"nick", "*"}, {"message", "sam waves"}}));
  }
  ASSERT_TRUE(leg.send_packet(emote_json("shrugs")));  // requests are accepted from anyone
  EXPECT_TRUE(next_exactly(sam, "emote", {{"nick", "leg"}, {"message", "shrugs"}}));
  EXPECT_TRUE(next_exactly(newcomer, "emote", {{"nick", "leg"}, {"message", "shrugs"}}));
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_exactly(*c, "chat", {{"nick", "*"}, {"message", "leg shrugs"}}));
  }

  // who and rooms: no fallback, nothing at all (part has who, so it asks rooms only).
  for (auto* c : fallbacks) {
    if (c != &part) {
      ASSERT_TRUE(c->send_packet(R"({"type":"who"})"));
    }
    ASSERT_TRUE(c->send_packet(R"({"type":"rooms"})"));
  }

  // leave (rooms), by enter and by disconnect: part 1 bytes, no room member.
  ASSERT_TRUE(newcomer.send_packet(enter_json("games")));
  ASSERT_TRUE(next_exactly(newcomer, "join", {{"nick", "newcomer"}, {"room", "games"}}));
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_raw(*c, R"({"type":"leave","nick":"newcomer"})"));
  }
  EXPECT_TRUE(next_exactly(sam, "leave", {{"nick", "newcomer"}, {"room", "lobby"}}));
  ASSERT_TRUE(newcomer.send_packet(enter_json("lobby")));
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_raw(*c, R"({"type":"join","nick":"newcomer"})"));
  }
  EXPECT_TRUE(next_exactly(sam, "join", {{"nick", "newcomer"}, {"room", "lobby"}}));
  newcomer.close();
  for (auto* c : fallbacks) {
    EXPECT_TRUE(next_raw(*c, R"({"type":"leave","nick":"newcomer"})"));
  }
  EXPECT_TRUE(next_exactly(sam, "leave", {{"nick", "newcomer"}, {"room", "lobby"}}));
  expect_nothing_pending(sam, "sam", fallbacks, "nothing else, no who or rooms replies");
}

TEST_P(Fallback, HistoryIsNeverSentWithoutTheCap) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient sam = join_modern(port(), "sam");
  ASSERT_TRUE(sam);
  ASSERT_TRUE(sam.send_chat("remember me"));
  ASSERT_TRUE(next_exactly(sam, "chat", {{"nick", "sam"}, {"message", "remember me"}}));
  ASSERT_TRUE(sam.send_packet(emote_json("and me")));
  ASSERT_TRUE(next_exactly(sam, "emote", {{"nick", "sam"}, {"message", "and me"}}));
  ASSERT_TRUE(sam.send_packet(enter_json("games")));
  ASSERT_TRUE(next_exactly(sam, "join", {{"nick", "sam"}, {"room", "games"}}));
  ASSERT_TRUE(sam.send_chat("games line"));
  ASSERT_TRUE(next_exactly(sam, "chat", {{"nick", "sam"}, {"message", "games line"}}));
  // The lobby has history; newcomers without the cap get none of it: a legacy
  // connection's first packet is its own join (join_as checks that), a capless
  // modern one's are welcome and join (join_modern fails on anything between).
  TestClient leg = join("leg");
  ASSERT_TRUE(leg);
  TestClient bare = join_modern(port(), "bare", {});
  ASSERT_TRUE(bare);
  ASSERT_TRUE(next_raw(leg, R"({"type":"join","nick":"bare"})"));
  // Nor on enter into a room with history.
  ASSERT_TRUE(leg.send_packet(enter_json("games")));
  EXPECT_TRUE(next_raw(leg, R"({"type":"join","nick":"leg"})"));
  EXPECT_TRUE(next_exactly(sam, "join", {{"nick", "leg"}, {"room", "games"}}));
  EXPECT_TRUE(next_raw(bare, R"({"type":"leave","nick":"leg"})"));
  ASSERT_TRUE(bare.send_packet(enter_json("games")));
  EXPECT_TRUE(next_raw(bare, R"({"type":"join","nick":"bare"})"));
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Fallback, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::ext
