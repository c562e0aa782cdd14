// Room history: the last N chats and emotes of the room, oldest first, on welcome and on enter.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/extensions/ext_support.hpp"
#include "tests/service/service_fixture.hpp"

namespace chat::test::ext {
namespace {

using History = svc::ServiceTest;
using svc::next_is;

// `sender` says "line FIRST".."line LAST" and reads each echo.
void say_lines(TestClient& sender, int first, int last) {
  for (int i = first; i <= last; ++i) {
    ASSERT_TRUE(sender.send_chat("line " + std::to_string(i)));
    ASSERT_TRUE(next_is(sender, "chat", {{"message", "line " + std::to_string(i)}}));
  }
}

std::vector<std::string> lines(int first, int last) {
  std::vector<std::string> out;
  for (int i = first; i <= last; ++i) {
    out.push_back("line " + std::to_string(i));
  }
  return out;
}

// The messages of replayed chats, checking each is exactly a history chat from `nick`.
std::vector<std::string> messages(const std::vector<Packet>& history, const std::string& nick) {
  std::vector<std::string> out;
  for (const auto& p : history) {
    EXPECT_TRUE(is_exactly(p, "chat",
                           {{"nick", nick}, {"message", p.get("message")}, {"history", "true"}}));
    out.push_back(p.get("message"));
  }
  return out;
}

TEST_P(History, DefaultKeepsTheLastTwentyOldestFirst) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_NO_FATAL_FAILURE(say_lines(pat, 1, 25));
  std::vector<Packet> history;
  TestClient chris = join_modern(port(), "chris", kAllCaps, &history);
  ASSERT_TRUE(chris);
  EXPECT_EQ(messages(history, "pat"), lines(6, 25));
}

TEST_P(History, HistoryThreeReplaysOnlyTheLastThree) {
  ASSERT_NO_FATAL_FAILURE(start_with(config({"--history=3"})));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_NO_FATAL_FAILURE(say_lines(pat, 1, 2));
  std::vector<Packet> early;
  TestClient chris = join_modern(port(), "chris", kAllCaps, &early);
  ASSERT_TRUE(chris);
  EXPECT_EQ(messages(early, "pat"), lines(1, 2)) << "fewer than N: all of them";
  ASSERT_TRUE(next_is(pat, "join", {{"nick", "chris"}}));
  ASSERT_NO_FATAL_FAILURE(say_lines(pat, 3, 7));
  std::vector<Packet> later;
  TestClient leslie = join_modern(port(), "leslie", kAllCaps, &later);
  ASSERT_TRUE(leslie);
  EXPECT_EQ(messages(later, "pat"), lines(5, 7));
}

TEST_P(History, HistoryZeroReplaysNothing) {
  ASSERT_NO_FATAL_FAILURE(start_with(config({"--history=0"})));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_NO_FATAL_FAILURE(say_lines(pat, 1, 3));
  std::vector<Packet> history;
  TestClient chris = join_modern(port(), "chris", kAllCaps, &history);
  ASSERT_TRUE(chris);
  EXPECT_TRUE(history.empty()) << history.size() << " replayed";
  ASSERT_TRUE(chris.send_packet(enter_json("games")));
  EXPECT_TRUE(next_exactly(chris, "join", {{"nick", "chris"}, {"room", "games"}}))
      << "nothing before the join on enter either";
}

TEST_P(History, OnlyConnectionsWithTheHistoryCapGetIt) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_NO_FATAL_FAILURE(say_lines(pat, 1, 2));
  // join_modern fails the test on anything but welcome, history, join; with no
  // history cap there must be no history at all.
  std::vector<Packet> history;
  TestClient chris =
      join_modern(port(), "chris", {"dm", "emote", "who", "rooms", "info"}, &history);
  ASSERT_TRUE(chris);
  EXPECT_TRUE(history.empty());
  // A legacy newcomer's first packet is its own join.
  TestClient legacy = join("leslie");
  EXPECT_TRUE(legacy);
}

TEST_P(History, EnterReplaysTheNewRoomsHistoryNotTheOld) {
  ASSERT_NO_FATAL_FAILURE(start_with(config({"--history=3"})));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(zed.send_packet(enter_json("games")));
  ASSERT_TRUE(next_exactly(zed, "join", {{"nick", "zed"}, {"room", "games"}}));
  ASSERT_NO_FATAL_FAILURE(say_lines(zed, 1, 4));  // games: 2, 3, 4
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_chat("lobby line"));
  ASSERT_TRUE(next_is(pat, "chat", {{"message", "lobby line"}}));
  ASSERT_TRUE(pat.send_packet(enter_json("games")));
  for (int i = 2; i <= 4; ++i) {
    EXPECT_TRUE(next_exactly(
        pat, "chat",
        {{"nick", "zed"}, {"message", "line " + std::to_string(i)}, {"history", "true"}}));
  }
  EXPECT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "games"}}));
  // And back: the lobby's own history.
  ASSERT_TRUE(pat.send_packet(enter_json("lobby")));
  EXPECT_TRUE(
      next_exactly(pat, "chat", {{"nick", "pat"}, {"message", "lobby line"}, {"history", "true"}}));
  EXPECT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "lobby"}}));
}

TEST_P(History, EmotesAreHistoryInTheFormTheNewcomerAccepts) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(emote_json("waves")));
  ASSERT_TRUE(next_exactly(pat, "emote", {{"nick", "pat"}, {"message", "waves"}}));
  ASSERT_TRUE(pat.send_chat("hello"));
  ASSERT_TRUE(next_is(pat, "chat", {{"message", "hello"}}));
  // A dm is not room history.
  ASSERT_TRUE(pat.send_packet(dm_json("pat", "private")));
  ASSERT_TRUE(next_is(pat, "dm", {{"message", "private"}}));

  std::vector<Packet> with_emote;
  TestClient chris = join_modern(port(), "chris", kAllCaps, &with_emote);
  ASSERT_TRUE(chris);
  ASSERT_EQ(with_emote.size(), 2u);
  EXPECT_TRUE(is_exactly(with_emote[0], "emote",
                         {{"nick", "pat"}, {"message", "waves"}, {"history", "true"}}));
  EXPECT_TRUE(is_exactly(with_emote[1], "chat",
                         {{"nick", "pat"}, {"message", "hello"}, {"history", "true"}}));

  std::vector<Packet> without_emote;
  TestClient leslie = join_modern(port(), "leslie", {"history"}, &without_emote);
  ASSERT_TRUE(leslie);
  ASSERT_EQ(without_emote.size(), 2u);
  EXPECT_TRUE(is_exactly(without_emote[0], "chat",
                         {{"nick", "*"}, {"message", "pat waves"}, {"history", "true"}}));
  EXPECT_TRUE(is_exactly(without_emote[1], "chat",
                         {{"nick", "pat"}, {"message", "hello"}, {"history", "true"}}));
}

TEST_P(History, ARoomThatVanishedStartsAfreshWithNoHistory) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(zed.send_packet(enter_json("games")));
  ASSERT_TRUE(next_exactly(zed, "join", {{"nick", "zed"}, {"room", "games"}}));
  ASSERT_NO_FATAL_FAILURE(say_lines(zed, 1, 2));
  ASSERT_TRUE(zed.send_packet(enter_json("lobby")));
  ASSERT_TRUE(next_exactly(zed, "join", {{"nick", "zed"}, {"room", "lobby"}}));
  // games was empty, so it disappeared with its history.
  ASSERT_TRUE(zed.send_packet(enter_json("games")));
  EXPECT_TRUE(next_exactly(zed, "join", {{"nick", "zed"}, {"room", "games"}}));
}

INSTANTIATE_TEST_SUITE_P(EventLoop, History, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::ext
