// PROTOCOL.md part 2 against the real chatd: welcome, dm, emote, who, rooms, enter, info, shutdown,
// errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "tests/extensions/ext_support.hpp"
#include "tests/service/service_fixture.hpp"

#ifndef CHATCTL_PATH
#error "CHATCTL_PATH must name the chatctl binary"
#endif

namespace chat::test::ext {
namespace {

using Ext = svc::ServiceTest;
using svc::next_is;
using svc::next_raw;

// Moves `c` (all caps) into `room`, alone there: its history (none) and its join.
::testing::AssertionResult enter_alone(TestClient& c, const std::string& nick,
                                       const std::string& room) {
  if (!c.send_packet(enter_json(room))) {
    return ::testing::AssertionFailure() << "cannot send enter";
  }
  return next_exactly(c, "join", {{"nick", nick}, {"room", room}});
}

// The error `code` with a non-empty message and nothing else.
::testing::AssertionResult next_error(TestClient& c, const std::string& code) {
  auto p = c.recv_packet();
  if (!p) {
    return ::testing::AssertionFailure() << "expected error " << code << ", got nothing";
  }
  if (p->get("message").empty()) {
    return ::testing::AssertionFailure() << "error without a message: " << p->raw;
  }
  return is_exactly(*p, "error", {{"code", code}, {"message", p->get("message")}});
}

// Asks for the room list until `done` holds for it (rooms vanish when the last member's
// close is handled, which the asker cannot otherwise observe); bounded.
bool rooms_until(TestClient& c, const std::function<bool(const Packet&)>& done, std::string& last) {
  return svc::wait_until([&] {
    if (!c.send_packet(R"({"type":"rooms"})")) {
      return false;
    }
    auto p = c.recv_packet();
    last = p ? p->raw : "nothing";
    return p && p->type == "rooms" && done(*p);
  });
}

// ---- negotiation ------------------------------------------------------------------

TEST_P(Ext, WelcomeFirstWithTheKnownRequestedCapsThenHistoryThenJoin) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient alice = join("alice");  // legacy
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice.send_chat("one"));
  ASSERT_TRUE(alice.send_chat("two"));
  ASSERT_TRUE(next_raw(alice, R"({"type":"chat","nick":"alice","message":"one"})"));
  ASSERT_TRUE(next_raw(alice, R"({"type":"chat","nick":"alice","message":"two"})"));

  TestClient pat = TestClient::connect(port());
  ASSERT_TRUE(pat.send_packet(hello_caps("pat", {"history", "teleport", "who", "dm", "x-future"})));
  // Requested order, unknown caps dropped.
  EXPECT_TRUE(next_welcome(pat, "pat", R"(["history","who","dm"])"));
  EXPECT_TRUE(
      next_exactly(pat, "chat", {{"nick", "alice"}, {"message", "one"}, {"history", "true"}}));
  EXPECT_TRUE(
      next_exactly(pat, "chat", {{"nick", "alice"}, {"message", "two"}, {"history", "true"}}));
  // Without the rooms cap the join has no room member.
  EXPECT_TRUE(next_raw(pat, R"({"type":"join","nick":"pat"})"));
  EXPECT_TRUE(next_raw(alice, R"({"type":"join","nick":"pat"})"));
}

TEST_P(Ext, EveryKnownCapIsAccepted) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat", kAllCaps);  // welcome.caps must be all six
  EXPECT_TRUE(pat);
}

TEST_P(Ext, EmptyCapsListIsModernWithoutAnyCap) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient alice = join("alice");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice.send_chat("not replayed without the history cap"));
  ASSERT_TRUE(next_is(alice, "chat", {{"nick", "alice"}}));
  TestClient pat = TestClient::connect(port());
  ASSERT_TRUE(pat.send_packet(R"({"type":"hello","nick":"pat","caps":[]})"));
  EXPECT_TRUE(next_welcome(pat, "pat", "[]"));
  EXPECT_TRUE(next_raw(pat, R"({"type":"join","nick":"pat"})"));
  // Modern: errors that leave the connection open reach it.
  ASSERT_TRUE(pat.send_packet(R"({"type":"teleport"})"));
  EXPECT_TRUE(next_error(pat, "unknown-type"));
}

// ---- dm -----------------------------------------------------------------------------

TEST_P(Ext, DmGoesToTheRecipientAndIsEchoedToTheSenderOnly) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat");
  TestClient chris = join_modern(port(), "chris");
  TestClient leslie = join_modern(port(), "leslie");
  ASSERT_TRUE(pat && chris && leslie);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "chris"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "leslie"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "leslie"}, {"room", "lobby"}}));

  ASSERT_TRUE(pat.send_packet(dm_json("chris", "how's it going?")));
  const Members dm{{"from", "pat"}, {"to", "chris"}, {"message", "how's it going?"}};
  EXPECT_TRUE(next_exactly(chris, "dm", dm));
  EXPECT_TRUE(next_exactly(pat, "dm", dm));
  // The recipient is found case-insensitively; "to" is the recipient's own spelling.
  ASSERT_TRUE(pat.send_packet(dm_json("CHRIS", "shouting")));
  const Members dm2{{"from", "pat"}, {"to", "chris"}, {"message", "shouting"}};
  EXPECT_TRUE(next_exactly(chris, "dm", dm2));
  EXPECT_TRUE(next_exactly(pat, "dm", dm2));
  expect_nothing_pending(leslie, "leslie", {&pat, &chris}, "leslie saw no dm");
}

TEST_P(Ext, DmToYourselfIsDeliveredOnce) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(dm_json("pat", "note to self")));
  EXPECT_TRUE(
      next_exactly(pat, "dm", {{"from", "pat"}, {"to", "pat"}, {"message", "note to self"}}));
  expect_nothing_pending(pat, "pat", {}, "only once");
}

TEST_P(Ext, DmToANickNotConnectedIsNoSuchNickAndTheConnectionStaysOpen) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(dm_json("nobody", "hello?")));
  EXPECT_TRUE(next_error(pat, "no-such-nick"));
  expect_nothing_pending(pat, "pat", {}, "still open");
}

TEST_P(Ext, DmCrossesRooms) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient chris = join_modern(port(), "chris");
  ASSERT_TRUE(chris);
  ASSERT_TRUE(enter_alone(chris, "chris", "games"));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(dm_json("chris", "from the lobby")));
  const Members there{{"from", "pat"}, {"to", "chris"}, {"message", "from the lobby"}};
  EXPECT_TRUE(next_exactly(chris, "dm", there));
  EXPECT_TRUE(next_exactly(pat, "dm", there));
  ASSERT_TRUE(chris.send_packet(dm_json("pat", "from games")));
  const Members back{{"from", "chris"}, {"to", "pat"}, {"message", "from games"}};
  EXPECT_TRUE(next_exactly(pat, "dm", back));
  EXPECT_TRUE(next_exactly(chris, "dm", back));
}

// ---- emote --------------------------------------------------------------------------

TEST_P(Ext, EmoteReachesTheSendersRoomNativelyOrAsTheChatFallback) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  TestClient pat = join_modern(port(), "pat");
  TestClient chris = join_modern(port(), "chris", {"dm", "who"});  // modern, no emote cap
  TestClient leslie = join("leslie");                              // legacy
  ASSERT_TRUE(pat && chris && leslie);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "chris"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "leslie"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_raw(chris, R"({"type":"join","nick":"leslie"})"));

  ASSERT_TRUE(pat.send_packet(emote_json("goes out to buy some snacky cakes")));
  EXPECT_TRUE(next_exactly(pat, "emote",
                           {{"nick", "pat"}, {"message", "goes out to buy some snacky cakes"}}));
  const Members fallback{{"nick", "*"}, {"message", "pat goes out to buy some snacky cakes"}};
  EXPECT_TRUE(next_exactly(chris, "chat", fallback));
  EXPECT_TRUE(next_exactly(leslie, "chat", fallback));
  // Not to other rooms.
  expect_nothing_pending(zed, "zed", {}, "no emote in games");
}

// ---- who ----------------------------------------------------------------------------

TEST_P(Ext, WhoListsTheSendersRoomSortedByCodePoint) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  std::vector<TestClient> others;
  for (const std::string nick : {"zoe", "émile", "Bob", "adam", "_x"}) {
    others.push_back(join(nick));
    ASSERT_TRUE(others.back()) << nick;
  }
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(R"({"type":"who"})"));
  EXPECT_TRUE(next_exactly(
      pat, "who",
      {{"room", "lobby"}, {"nicks", json_list({"Bob", "_x", "adam", "pat", "zoe", "émile"})}}));
  // After moving, who answers for the new room only.
  ASSERT_TRUE(enter_alone(pat, "pat", "games"));
  ASSERT_TRUE(pat.send_packet(R"({"type":"who"})"));
  EXPECT_TRUE(next_exactly(pat, "who", {{"room", "games"}, {"nicks", json_list({"pat"})}}));
}

TEST_P(Ext, WhoAndRoomsWithoutTheirCapGetNoAnswer) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient chris = join_modern(port(), "chris", {"dm"});
  TestClient legacy = join("leslie");
  ASSERT_TRUE(chris && legacy);
  ASSERT_TRUE(next_raw(chris, R"({"type":"join","nick":"leslie"})"));
  for (TestClient* c : {&chris, &legacy}) {
    ASSERT_TRUE(c->send_packet(R"({"type":"who"})"));
    ASSERT_TRUE(c->send_packet(R"({"type":"rooms"})"));
  }
  // Served in order: a reply would come before these markers.
  expect_nothing_pending(chris, "chris", {&legacy}, "no who, no rooms");
  expect_nothing_pending(legacy, "leslie", {&chris}, "none for legacy either");
}

// ---- rooms and enter -----------------------------------------------------------------

TEST_P(Ext, RoomsListIsSortedByNameWithLobbyAlwaysListed) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient a = join_modern(port(), "a");
  ASSERT_TRUE(a);
  ASSERT_TRUE(enter_alone(a, "a", "zoo"));
  TestClient b = join_modern(port(), "b");
  ASSERT_TRUE(b);
  ASSERT_TRUE(b.send_packet(enter_json("zoo")));
  ASSERT_TRUE(next_exactly(b, "join", {{"nick", "b"}, {"room", "zoo"}}));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(enter_alone(pat, "pat", "games"));
  // Everyone has left the lobby; it is still listed, with 0 users.
  ASSERT_TRUE(pat.send_packet(R"({"type":"rooms"})"));
  auto reply = pat.recv_packet();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->members.size(), 2u) << reply->raw;
  EXPECT_EQ(reply->type, "rooms") << reply->raw;
  EXPECT_EQ(rooms_list(*reply),
            (std::vector<std::pair<std::string, int>>{{"games", 1}, {"lobby", 0}, {"zoo", 2}}))
      << reply->raw;
}

TEST_P(Ext, EnterSendsLeaveToTheOldRoomThenHistoryAndJoinToTheNewRoom) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  ASSERT_TRUE(zed.send_chat("in games"));
  ASSERT_TRUE(next_is(zed, "chat", {{"message", "in games"}}));

  TestClient pat = join_modern(port(), "pat");
  TestClient chris = join_modern(port(), "chris");
  TestClient eve = join_modern(port(), "eve", {"dm"});
  TestClient dave = join("dave");
  ASSERT_TRUE(pat && chris && eve && dave);
  for (const std::string nick : {"chris", "eve", "dave"}) {
    ASSERT_TRUE(next_exactly(pat, "join", {{"nick", nick}, {"room", "lobby"}}));
  }
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "eve"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "dave"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_raw(eve, R"({"type":"join","nick":"dave"})"));

  ASSERT_TRUE(pat.send_packet(enter_json("games")));
  // The mover: the new room's history, then its join with the room.
  EXPECT_TRUE(
      next_exactly(pat, "chat", {{"nick", "zed"}, {"message", "in games"}, {"history", "true"}}));
  EXPECT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "games"}}));
  // The new room's members: the join with room.
  EXPECT_TRUE(next_exactly(zed, "join", {{"nick", "pat"}, {"room", "games"}}));
  // The old room's remaining members: leave, with room only for the rooms cap.
  EXPECT_TRUE(next_exactly(chris, "leave", {{"nick", "pat"}, {"room", "lobby"}}));
  EXPECT_TRUE(next_raw(eve, R"({"type":"leave","nick":"pat"})"));
  EXPECT_TRUE(next_raw(dave, R"({"type":"leave","nick":"pat"})"));

  // Entering the room you are in does nothing.
  ASSERT_TRUE(pat.send_packet(enter_json("games")));
  expect_nothing_pending(zed, "zed", {&pat}, "nothing for a no-op enter");
  expect_nothing_pending(chris, "chris", {&eve, &dave}, "nor in the lobby");
}

TEST_P(Ext, ChatAndEmoteStayInTheRoomAndLeaveGoesToTheRoomOnly) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_packet(enter_json("games")));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "games"}}));
  ASSERT_TRUE(next_exactly(zed, "join", {{"nick", "pat"}, {"room", "games"}}));
  TestClient chris = join_modern(port(), "chris");
  TestClient dave = join("dave");
  ASSERT_TRUE(chris && dave);
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "dave"}, {"room", "lobby"}}));

  ASSERT_TRUE(pat.send_chat("games only"));
  ASSERT_TRUE(pat.send_packet(emote_json("rolls the dice")));
  for (TestClient* c : {&pat, &zed}) {
    EXPECT_TRUE(next_exactly(*c, "chat", {{"nick", "pat"}, {"message", "games only"}}));
    EXPECT_TRUE(next_exactly(*c, "emote", {{"nick", "pat"}, {"message", "rolls the dice"}}));
  }
  ASSERT_TRUE(chris.send_chat("lobby only"));
  EXPECT_TRUE(next_exactly(chris, "chat", {{"nick", "chris"}, {"message", "lobby only"}}));
  EXPECT_TRUE(next_exactly(dave, "chat", {{"nick", "chris"}, {"message", "lobby only"}}));

  pat.close();
  EXPECT_TRUE(next_exactly(zed, "leave", {{"nick", "pat"}, {"room", "games"}}));
  expect_nothing_pending(chris, "chris", {&dave}, "no chat, emote or leave from games");
  expect_nothing_pending(zed, "zed", {}, "no lobby chat in games");
}

TEST_P(Ext, EmptyRoomsVanishAndTheLobbyStays) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient chris = join_modern(port(), "chris");
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(chris && pat);
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "pat"}, {"room", "lobby"}}));
  ASSERT_TRUE(pat.send_packet(enter_json("tmp")));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "tmp"}}));
  ASSERT_TRUE(next_exactly(chris, "leave", {{"nick", "pat"}, {"room", "lobby"}}));
  ASSERT_TRUE(chris.send_packet(R"({"type":"rooms"})"));
  auto both = chris.recv_packet();
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(rooms_list(*both), (std::vector<std::pair<std::string, int>>{{"lobby", 1}, {"tmp", 1}}))
      << both->raw;
  // Leaving by enter: the room goes at once.
  ASSERT_TRUE(pat.send_packet(enter_json("lobby")));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "pat"}, {"room", "lobby"}}));
  ASSERT_TRUE(chris.send_packet(R"({"type":"rooms"})"));
  auto lobby_only = chris.recv_packet();
  ASSERT_TRUE(lobby_only.has_value());
  EXPECT_EQ(rooms_list(*lobby_only), (std::vector<std::pair<std::string, int>>{{"lobby", 2}}))
      << lobby_only->raw;
  // Leaving by disconnect: the room goes too.
  ASSERT_TRUE(pat.send_packet(enter_json("tmp2")));
  ASSERT_TRUE(next_exactly(chris, "leave", {{"nick", "pat"}, {"room", "lobby"}}));
  pat.close();
  std::string last;
  EXPECT_TRUE(rooms_until(
      chris,
      [](const Packet& p) {
        return rooms_list(p) == std::vector<std::pair<std::string, int>>{{"lobby", 1}};
      },
      last))
      << "tmp2 outlived its last member: " << last;
  // The lobby stays even when empty.
  TestClient watcher = join_modern(port(), "watcher");
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(next_exactly(chris, "join", {{"nick", "watcher"}, {"room", "lobby"}}));
  ASSERT_TRUE(enter_alone(watcher, "watcher", "elsewhere"));
  chris.close();
  EXPECT_TRUE(rooms_until(
      watcher,
      [](const Packet& p) {
        return rooms_list(p) ==
               std::vector<std::pair<std::string, int>>{{"elsewhere", 1}, {"lobby", 0}};
      },
      last))
      << last;
}

TEST_P(Ext, LegacyEnterMovesItAndItSeesJoinAndLeaveWithoutRoom) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  TestClient pat = join_modern(port(), "pat");
  TestClient dave = join("dave");
  ASSERT_TRUE(pat && dave);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "dave"}, {"room", "lobby"}}));
  ASSERT_TRUE(dave.send_packet(enter_json("games")));
  EXPECT_TRUE(next_raw(dave, R"({"type":"join","nick":"dave"})"));
  EXPECT_TRUE(next_exactly(zed, "join", {{"nick", "dave"}, {"room", "games"}}));
  EXPECT_TRUE(next_exactly(pat, "leave", {{"nick", "dave"}, {"room", "lobby"}}));
  ASSERT_TRUE(dave.send_chat("now in games"));
  EXPECT_TRUE(next_raw(dave, R"({"type":"chat","nick":"dave","message":"now in games"})"));
  EXPECT_TRUE(next_exactly(zed, "chat", {{"nick", "dave"}, {"message", "now in games"}}));
  zed.close();
  EXPECT_TRUE(next_raw(dave, R"({"type":"leave","nick":"zed"})"));
  expect_nothing_pending(pat, "pat", {}, "nothing from games in the lobby");
}

// ---- info ----------------------------------------------------------------------------

TEST_P(Ext, ChatctlSayReachesModernClientsAsInfoAndOthersAsChatFromStars) {
  const std::string ctl = tmp_.file("chatd.ctl");
  ChatdConfig c = config({"--control-socket=" + ctl});
  c.disable_control_socket = false;
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  TestClient pat = join_modern(port(), "pat");
  TestClient chris = join_modern(port(), "chris", {"dm", "emote"});
  TestClient dave = join("dave");
  ASSERT_TRUE(pat && chris && dave);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "chris"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "dave"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_raw(chris, R"({"type":"join","nick":"dave"})"));

  const auto said = svc::chatctl(CHATCTL_PATH, ctl, {"say", "maintenance at 10"});
  ASSERT_EQ(said.exit_code, 0) << said.output();
  // Every room.
  EXPECT_TRUE(next_exactly(zed, "info", {{"message", "maintenance at 10"}}));
  EXPECT_TRUE(next_exactly(pat, "info", {{"message", "maintenance at 10"}}));
  EXPECT_TRUE(next_exactly(chris, "chat", {{"nick", "***"}, {"message", "maintenance at 10"}}));
  EXPECT_TRUE(next_exactly(dave, "chat", {{"nick", "***"}, {"message", "maintenance at 10"}}));
  // An operator message is not room history.
  std::vector<Packet> history;
  TestClient late = join_modern(port(), "late", kAllCaps, &history);
  EXPECT_TRUE(history.empty()) << history.front().raw;
}

// ---- shutdown ------------------------------------------------------------------------

TEST_P(Ext, SigtermTellsEveryClientServerShuttingDownThenClosesWithoutLeaves) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient zed = join_modern(port(), "zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(enter_alone(zed, "zed", "games"));
  TestClient pat = join_modern(port(), "pat");
  TestClient chris = join_modern(port(), "chris", {});
  TestClient dave = join("dave");
  ASSERT_TRUE(pat && chris && dave);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "chris"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "dave"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_raw(chris, R"({"type":"join","nick":"dave"})"));

  ASSERT_TRUE(chatd().signal(SIGTERM));
  struct Expect {
    TestClient* client;
    const char* who;
    bool info;
  };
  for (const Expect& e : {Expect{&zed, "zed", true}, Expect{&pat, "pat", true},
                          Expect{&chris, "chris", false}, Expect{&dave, "dave", false}}) {
    SCOPED_TRACE(e.who);
    std::vector<Packet> got;
    const auto end = e.client->read_until_closed(got);
    EXPECT_EQ(end, TestClient::Status::kEof) << status_name(end);
    ASSERT_EQ(got.size(), 1u) << "expected exactly one packet before the close, got " << got.size()
                              << (got.empty() ? "" : ": " + got.back().raw);
    if (e.info) {
      EXPECT_TRUE(is_exactly(got[0], "info", {{"message", "server shutting down"}}));
    } else {
      EXPECT_TRUE(
          is_exactly(got[0], "chat", {{"nick", "***"}, {"message", "server shutting down"}}));
    }
  }
  const auto status = chatd().wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);
}

// ---- errors -------------------------------------------------------------------------

TEST_P(Ext, ExtensionErrorsReachModernConnectionsOnlyAndNoConnectionIsClosed) {
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join_modern(port(), "pat");
  TestClient bare = join_modern(port(), "bare", {});  // modern without caps: errors too
  ASSERT_TRUE(pat && bare);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "bare"}, {"room", "lobby"}}));
  const std::vector<std::pair<std::string, std::string>> bad{
      {"bad-room", enter_json("#no")},
      {"bad-room", enter_json("two words")},
      {"bad-room", enter_json("")},
      {"bad-room", enter_json(std::string(33, 'r'))},
      {"bad-room", enter_json("a/b")},
      {"bad-room", enter_json("bell\a")},
      {"unknown-type", R"({"type":"teleport","room":"mars"})"},
      {"unknown-type", R"({"type":"welcome","nick":"pat"})"},
      {"no-such-nick", dm_json("nobody", "hi")},
      {"bad-packet", R"({"type":"enter"})"},
      {"bad-packet", R"({"type":"enter","room":5})"},
      {"bad-packet", R"({"type":"dm","to":"pat"})"},
      {"bad-packet", R"({"type":"dm","message":"hi"})"},
      {"bad-packet", R"({"type":"emote"})"},
      {"bad-message", emote_json("")},
      {"bad-message", emote_json("beep\a")},
      {"bad-message", dm_json("pat", "")},
      {"bad-message", dm_json("pat", "esc\x1b[2J")},
  };
  int n = 0;
  for (auto* c : {&pat, &bare}) {
    const std::string nick = c == &pat ? "pat" : "bare";
    for (const auto& [code, payload] : bad) {
      SCOPED_TRACE(nick + ": " + payload);
      ASSERT_TRUE(c->send_packet(payload));
      EXPECT_TRUE(next_error(*c, code));
      // Still open, and the other saw nothing of it.
      const std::string marker = "still here " + std::to_string(n++);
      ASSERT_TRUE(c->send_chat(marker));
      EXPECT_TRUE(next_exactly(pat, "chat", {{"nick", nick}, {"message", marker}}));
      EXPECT_TRUE(next_exactly(bare, "chat", {{"nick", nick}, {"message", marker}}));
    }
  }
  // A legacy connection: the same packets are dropped silently, and it stays open.
  TestClient leg = join("leg");
  ASSERT_TRUE(leg);
  ASSERT_TRUE(next_exactly(pat, "join", {{"nick", "leg"}, {"room", "lobby"}}));
  ASSERT_TRUE(next_raw(bare, R"({"type":"join","nick":"leg"})"));
  for (const auto& [code, payload] : bad) {
    SCOPED_TRACE("leg: " + payload);
    ASSERT_TRUE(leg.send_packet(payload));
    const std::string marker = "dropped " + std::to_string(n++);
    ASSERT_TRUE(leg.send_chat(marker));
    EXPECT_TRUE(
        next_raw(leg, R"({"type":"chat","nick":"leg","message":)" + json_string(marker) + "}"));
    EXPECT_TRUE(next_exactly(pat, "chat", {{"nick", "leg"}, {"message", marker}}));
    EXPECT_TRUE(next_exactly(bare, "chat", {{"nick", "leg"}, {"message", marker}}));
  }
  // A 32-code-point room name is fine (the nick rules).
  const std::string longest = "房间" + std::string(30, 'r');
  ASSERT_TRUE(pat.send_packet(enter_json(longest)));
  EXPECT_TRUE(next_exactly(pat, "join", {{"nick", "pat"}, {"room", longest}}));
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Ext, ::testing::Values("select", "epoll"), backend_test_name);

}  // namespace
}  // namespace chat::test::ext
