// The real chatd over real sockets: PROTOCOL.md part 1 behaviour and every error it can reach.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/assertions.hpp"
#include "tests/support/chatd_fixture.hpp"
#include "tests/support/subprocess.hpp"

namespace chat::test {
namespace {

using namespace std::chrono_literals;
using Chatd = ChatdTest;

::testing::AssertionResult next_chat(TestClient& c, const std::string& nick,
                                     const std::string& message) {
  return next_is(c, "chat", {{"nick", nick}, {"message", message}});
}
::testing::AssertionResult next_join(TestClient& c, const std::string& nick) {
  return next_is(c, "join", {{"nick", nick}});
}
::testing::AssertionResult next_leave(TestClient& c, const std::string& nick) {
  return next_is(c, "leave", {{"nick", nick}});
}

// Proves that nothing was queued for `observers` before this point: `sender` says a
// unique line and each observer's very next packet must be that chat.
void expect_nothing_pending(TestClient& sender, const std::string& sender_nick,
                            std::vector<TestClient*> observers, const std::string& marker) {
  ASSERT_TRUE(sender.send_chat(marker));
  EXPECT_TRUE(next_chat(sender, sender_nick, marker)) << "at the sender";
  for (auto* o : observers) {
    EXPECT_TRUE(next_chat(*o, sender_nick, marker)) << "at an observer";
  }
}

std::string nick_for(int i) {
  return "user" + std::to_string(i);
}

// ---- join, chat, leave ------------------------------------------------------

TEST_P(Chatd, JoinReachesEveryoneIncludingNewcomer) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");  // join() requires pat's own join first
  ASSERT_TRUE(pat);
  TestClient chris = join("chris");
  ASSERT_TRUE(chris);
  EXPECT_TRUE(next_join(pat, "chris"));
  TestClient leslie = join("leslie");
  ASSERT_TRUE(leslie);
  EXPECT_TRUE(next_join(pat, "leslie"));
  EXPECT_TRUE(next_join(chris, "leslie"));
}

TEST_P(Chatd, LegacyJoinHasOnlyPart1Members) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = connect();
  ASSERT_TRUE(pat.send_hello("pat"));
  auto p = pat.recv_packet();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "join") << "a legacy hello gets no welcome: " << p->raw;
  EXPECT_EQ(p->get("nick"), "pat");
}

TEST_P(Chatd, ChatReachesEveryoneIncludingSender) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  TestClient leslie = join("leslie");
  ASSERT_TRUE(pat && chris && leslie);
  ASSERT_TRUE(next_join(pat, "chris") && next_join(pat, "leslie") && next_join(chris, "leslie"));
  ASSERT_TRUE(chris.send_chat("Hello?"));
  EXPECT_TRUE(next_chat(pat, "chris", "Hello?"));
  EXPECT_TRUE(next_chat(chris, "chris", "Hello?"));
  EXPECT_TRUE(next_chat(leslie, "chris", "Hello?"));
}

TEST_P(Chatd, ChatCarriesTheConnectionsNickNotOneTheClientSends) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  ASSERT_TRUE(pat.send_packet(R"({"type":"chat","nick":"chris","message":"I am chris"})"));
  EXPECT_TRUE(next_chat(chris, "pat", "I am chris"));
  EXPECT_TRUE(next_chat(pat, "pat", "I am chris"));
}

TEST_P(Chatd, MemberOrderAndUnknownMembersAreAccepted) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = connect();
  ASSERT_TRUE(pat.send_packet(R"({"colour":"red","nick":"pat","type":"hello","v":[1,{"x":2}]})"));
  EXPECT_TRUE(next_join(pat, "pat"));
  ASSERT_TRUE(pat.send_packet(R"({"message":"hi","extra":{"a":null},"type":"chat"})"));
  EXPECT_TRUE(next_chat(pat, "pat", "hi"));
}

TEST_P(Chatd, LeaveOnCleanCloseExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  TestClient leslie = join("leslie");
  ASSERT_TRUE(pat && chris && leslie);
  ASSERT_TRUE(next_join(pat, "chris") && next_join(pat, "leslie") && next_join(chris, "leslie"));
  chris.close();
  EXPECT_TRUE(next_leave(pat, "chris"));
  EXPECT_TRUE(next_leave(leslie, "chris"));
  expect_nothing_pending(pat, "pat", {&leslie}, "after chris left");
}

TEST_P(Chatd, LeaveOnResetExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  TestClient leslie = join("leslie");
  ASSERT_TRUE(pat && chris && leslie);
  ASSERT_TRUE(next_join(pat, "chris") && next_join(pat, "leslie") && next_join(chris, "leslie"));
  chris.reset();  // SO_LINGER 0: RST instead of FIN
  EXPECT_TRUE(next_leave(pat, "chris"));
  EXPECT_TRUE(next_leave(leslie, "chris"));
  expect_nothing_pending(pat, "pat", {&leslie}, "after chris was reset");
}

TEST_P(Chatd, LeaveOnResetWithUnreadDataExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  // Half a packet in flight, then a reset: the server sees a read error mid-frame.
  ASSERT_TRUE(chris.send_raw(frame(chat_json("half")).substr(0, 8)));
  chris.reset();
  EXPECT_TRUE(next_leave(pat, "chris"));
  expect_nothing_pending(pat, "pat", {}, "after chris vanished");
}

TEST_P(Chatd, LeaveWhenServerClosesForProtocolErrorExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  ASSERT_TRUE(chris.send_packet("this is not json"));
  EXPECT_TRUE(error_then_close(chris, "bad-packet"));
  EXPECT_TRUE(next_leave(pat, "chris"));
  expect_nothing_pending(pat, "pat", {}, "after chris was closed");
}

TEST_P(Chatd, RejectedHelloIsNeverAnnounced) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  {
    TestClient x = connect();
    ASSERT_TRUE(x.send_hello("PAT"));
    EXPECT_TRUE(error_then_close(x, "nick-taken"));
  }
  {
    TestClient x = connect();
    ASSERT_TRUE(x.send_hello("bad nick"));
    EXPECT_TRUE(error_then_close(x, "nick-invalid"));
  }
  {
    TestClient x = connect();
    ASSERT_TRUE(x.send_chat("no hello first"));
    EXPECT_TRUE(error_then_close(x, "hello-required"));
  }
  {
    TestClient x = connect();
    ASSERT_TRUE(x.send_packet("{}"));
    EXPECT_TRUE(error_then_close(x, "bad-packet"));
  }
  // Each of those was closed by the server, so any join/leave for it would already be queued.
  expect_nothing_pending(pat, "pat", {}, "nobody came or went");
}

TEST_P(Chatd, ConnectionClosedBeforeHelloIsNeverAnnounced) {
  // With room for two, a third client is admitted only once the server has reaped
  // the silent one; anything announced about it would be queued before that join.
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--max-clients=2"}));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  {
    TestClient silent = connect();
    ASSERT_TRUE(silent);
    silent.close();
  }
  {
    TestClient rude = connect();
    ASSERT_TRUE(rude);
    rude.reset();
  }
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  TestClient chris;
  while (std::chrono::steady_clock::now() < deadline) {
    TestClient c = connect();
    ASSERT_TRUE(c);
    auto r = c.recv(200ms);  // a server-full answer comes without a hello
    if (r.status == TestClient::Status::kPacket) {
      ASSERT_EQ(r.packet.get("code"), "server-full") << r.packet.raw;
      // Not reaped yet: give the server a moment before the next attempt (bounded loop).
      std::this_thread::sleep_for(20ms);
      continue;
    }
    if (r.status != TestClient::Status::kTimeout) {
      continue;  // closed: try again
    }
    ASSERT_TRUE(c.send_hello("chris"));
    auto j = c.recv();
    if (j.status == TestClient::Status::kPacket && j.packet.type == "join") {
      EXPECT_EQ(j.packet.get("nick"), "chris");
      chris = std::move(c);
      break;
    }
  }
  ASSERT_TRUE(chris) << "the server never freed the slots of the closed connections";
  EXPECT_TRUE(next_join(pat, "chris")) << "nothing may be announced for a client that never joined";
}

TEST_P(Chatd, TwoHundredClientsReceiveEveryMessageInPerSenderOrder) {
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--max-clients=400", "--max-per-address=0"}));
  constexpr int kClients = 200;
  constexpr int kMessages = 5;
  std::vector<TestClient> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(join(nick_for(i)));
    ASSERT_TRUE(clients.back()) << "client " << i;
  }
  // Everyone sees the joins of those who came after, in order.
  for (int i = 0; i < kClients; ++i) {
    for (int j = i + 1; j < kClients; ++j) {
      ASSERT_TRUE(next_join(clients[i], nick_for(j))) << "client " << i;
    }
  }
  // Every client says kMessages lines, interleaved, reading as it goes.
  std::vector<std::map<std::string, int>> next_seq(kClients);
  std::vector<int> received(kClients, 0);
  const int expected = kClients * kMessages;
  std::string problem;
  auto take = [&](int i) {
    while (auto p = clients[i].take_buffered()) {
      if (p->type != "chat") {
        problem = "client " + std::to_string(i) + " got " + p->raw;
        return;
      }
      const std::string msg = p->get("message");
      const auto hash = msg.find('#');
      if (hash == std::string::npos || msg.substr(0, hash) != p->get("nick")) {
        problem = "client " + std::to_string(i) + " got an unexpected chat " + p->raw;
        return;
      }
      const int seq = std::stoi(msg.substr(hash + 1));
      int& want = next_seq[i][p->get("nick")];
      if (seq != want) {
        problem = "client " + std::to_string(i) + " got " + msg + " but expected #" +
                  std::to_string(want) + " from that sender";
        return;
      }
      ++want;
      ++received[i];
    }
  };
  for (int k = 0; k < kMessages; ++k) {
    for (int i = 0; i < kClients; ++i) {
      ASSERT_TRUE(clients[i].send_chat(nick_for(i) + "#" + std::to_string(k)));
    }
    for (int i = 0; i < kClients; ++i) {
      clients[i].pump();
      take(i);
      ASSERT_TRUE(problem.empty()) << problem;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + 6 * kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<int> who;
    for (int i = 0; i < kClients; ++i) {
      if (received[i] < expected) {
        fds.push_back({clients[i].fd(), POLLIN, 0});
        who.push_back(i);
      }
    }
    if (fds.empty()) {
      break;
    }
    if (::poll(fds.data(), fds.size(), 500) <= 0) {
      continue;
    }
    for (std::size_t f = 0; f < fds.size(); ++f) {
      if (fds[f].revents != 0) {
        const bool open = clients[who[f]].pump();
        take(who[f]);
        ASSERT_TRUE(problem.empty()) << problem;
        ASSERT_TRUE(open || received[who[f]] == expected)
            << "client " << who[f] << " was disconnected after " << received[who[f]] << " chats";
      }
    }
  }
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(received[i], expected) << "client " << i;
  }
}

// ---- framing and content ----------------------------------------------------

TEST_P(Chatd, PacketsSplitByteByByteAreReassembled) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  TestClient chris = connect();
  ASSERT_TRUE(chris.send_byte_by_byte(frame(hello_json("chris"))));
  EXPECT_TRUE(next_join(chris, "chris"));
  EXPECT_TRUE(next_join(pat, "chris"));
  ASSERT_TRUE(
      chris.send_byte_by_byte(frame(chat_json("one byte at a time")) + frame(chat_json("你好 🎉"))));
  EXPECT_TRUE(next_chat(chris, "chris", "one byte at a time"));
  EXPECT_TRUE(next_chat(chris, "chris", "你好 🎉"));
  EXPECT_TRUE(next_chat(pat, "chris", "one byte at a time"));
  EXPECT_TRUE(next_chat(pat, "chris", "你好 🎉"));
}

TEST_P(Chatd, ManyPacketsInOneWriteAreAllHandledInOrder) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  TestClient chris = connect();
  std::string burst = frame(hello_json("chris"));
  constexpr int kCount = 100;
  for (int i = 0; i < kCount; ++i) {
    burst += frame(chat_json("burst " + std::to_string(i)));
  }
  ASSERT_TRUE(chris.send_raw(burst));
  EXPECT_TRUE(next_join(chris, "chris"));
  EXPECT_TRUE(next_join(pat, "chris"));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(next_chat(chris, "chris", "burst " + std::to_string(i)));
    ASSERT_TRUE(next_chat(pat, "chris", "burst " + std::to_string(i)));
  }
}

TEST_P(Chatd, Utf8NicksAndMessagesArriveIntact) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient ming = join("小明");
  TestClient party = join("🎉party");
  ASSERT_TRUE(ming && party);
  ASSERT_TRUE(next_join(ming, "🎉party"));
  const std::string lines[] = {"你好，世界", "🎉👍🏽 emoji with a skin tone",
                               "混合 text ünd émoji 😀", "\u3000ideographic space"};
  for (const auto& line : lines) {
    ASSERT_TRUE(ming.send_chat(line));
    EXPECT_TRUE(next_chat(ming, "小明", line));
    EXPECT_TRUE(next_chat(party, "小明", line));
  }
}

TEST_P(Chatd, Nick32CjkCodePointsIsAccepted) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  std::string nick;
  for (int i = 0; i < 32; ++i) {
    nick += "汉";  // 96 bytes, 32 code points
  }
  TestClient c = join(nick);
  ASSERT_TRUE(c);
}

TEST_P(Chatd, LargestPossibleChatIsDeliveredIntact) {
  // The broadcast chat is a full 65535-byte payload.
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  const std::size_t envelope = std::string(R"({"type":"chat","nick":"pat","message":""})").size();
  std::string message(65535 - envelope, '\0');
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<char>('a' + i % 26);
  }
  ASSERT_LE(frame(chat_json(message)).size(), 65537u);
  ASSERT_TRUE(pat.send_chat(message));
  auto at_chris = chris.recv_packet();
  ASSERT_TRUE(at_chris.has_value());
  EXPECT_EQ(at_chris->type, "chat");
  EXPECT_EQ(at_chris->get("nick"), "pat");
  EXPECT_TRUE(at_chris->get("message") == message)
      << "message altered, size " << at_chris->get("message").size();
  auto at_pat = pat.recv_packet();
  ASSERT_TRUE(at_pat.has_value());
  EXPECT_TRUE(at_pat->get("message") == message);
}

TEST_P(Chatd, MaximumSizeClientPayloadDoesNotBreakTheConnection) {
  // A 65535-byte payload is a legal frame; whatever the server does with a chat
  // too long to re-broadcast, it keeps the connection and serves the next packet.
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  const std::string prefix = R"({"type":"chat","message":")";
  const std::string payload = prefix + std::string(65535 - prefix.size() - 2, 'm') + "\"}";
  ASSERT_EQ(payload.size(), 65535u);
  ASSERT_TRUE(pat.send_packet(payload));
  ASSERT_TRUE(pat.send_chat("after the big one"));
  for (TestClient* c : {&pat, &chris}) {
    while (true) {
      auto r = c->recv();
      ASSERT_EQ(r.status, TestClient::Status::kPacket) << status_name(r.status);
      ASSERT_NE(r.packet.type, "leave") << r.packet.raw;
      if (r.packet.get("message") == "after the big one") {
        EXPECT_EQ(r.packet.get("nick"), "pat");
        break;
      }
    }
  }
}

TEST_P(Chatd, StalledHalfPacketDoesNotBlockOthers) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  // chris stops in the middle of a packet (and in the middle of a UTF-8 character).
  const std::string f = frame(chat_json("你好, finished later"));
  ASSERT_TRUE(chris.send_raw(f.substr(0, 29)));
  TestClient leslie = join("leslie");
  ASSERT_TRUE(leslie);
  EXPECT_TRUE(next_join(pat, "leslie"));
  EXPECT_TRUE(next_join(chris, "leslie"));
  ASSERT_TRUE(pat.send_chat("not blocked"));
  EXPECT_TRUE(next_chat(pat, "pat", "not blocked"));
  EXPECT_TRUE(next_chat(leslie, "pat", "not blocked"));
  EXPECT_TRUE(next_chat(chris, "pat", "not blocked"));
  ASSERT_TRUE(chris.send_raw(f.substr(29)));
  EXPECT_TRUE(next_chat(chris, "chris", "你好, finished later"));
  EXPECT_TRUE(next_chat(pat, "chris", "你好, finished later"));
  EXPECT_TRUE(next_chat(leslie, "chris", "你好, finished later"));
}

TEST_P(Chatd, LogsOneKeyValueLinePerEvent) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  {
    TestClient pat = join("pat");
    ASSERT_TRUE(pat);
    TestClient chris = join("chris");
    ASSERT_TRUE(chris);
    ASSERT_TRUE(next_join(pat, "chris"));
    chris.close();
    ASSERT_TRUE(next_leave(pat, "chris"));  // chatd has handled the close
  }
  const std::string log = chatd().log();
  std::size_t joins = 0;
  std::size_t leaves = 0;
  std::size_t pos = 0;
  while (pos < log.size()) {
    const auto end = std::min(log.find('\n', pos), log.size());
    const std::string line = log.substr(pos, end - pos);
    pos = end + 1;
    if (line.find("event=join") != std::string::npos &&
        line.find("nick=chris") != std::string::npos) {
      ++joins;
    }
    if (line.find("event=leave") != std::string::npos &&
        line.find("nick=chris") != std::string::npos) {
      ++leaves;
    }
  }
  EXPECT_EQ(joins, 1u) << log;
  EXPECT_EQ(leaves, 1u) << log;
}

// ---- errors that close ------------------------------------------------------

struct BadInput {
  const char* what;
  std::string bytes;  // already framed
  const char* code;
};

std::vector<BadInput> envelope_errors() {
  return {
      {"not UTF-8", frame("{\"type\":\"chat\",\"message\":\"caf\xe9\"}"), "bad-packet"},
      {"overlong UTF-8", frame("{\"type\":\"chat\",\"message\":\"\xc0\xaf\"}"), "bad-packet"},
      {"UTF-8 surrogate", frame("{\"type\":\"chat\",\"message\":\"\xed\xa0\x80\"}"), "bad-packet"},
      {"not JSON", frame("hello, world"), "bad-packet"},
      {"truncated JSON", frame(R"({"type":"chat","message":"hi")"), "bad-packet"},
      {"not an object", frame(R"(["chat","hi"])"), "bad-packet"},
      {"a JSON string", frame(R"("chat")"), "bad-packet"},
      {"no type", frame(R"({"message":"hi"})"), "bad-packet"},
      {"type not a string", frame(R"({"type":7,"message":"hi"})"), "bad-packet"},
      {"N = 0", std::string("\0\0", 2), "bad-packet"},
  };
}

TEST_P(Chatd, BrokenEnvelopeBeforeHelloIsBadPacketThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  for (const auto& bad : envelope_errors()) {
    SCOPED_TRACE(bad.what);
    TestClient c = connect();
    ASSERT_TRUE(c.send_raw(bad.bytes));
    EXPECT_TRUE(error_then_close(c, bad.code));
  }
}

TEST_P(Chatd, BrokenEnvelopeAfterJoinIsBadPacketThenCloseAndOneLeave) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient observer = join("observer");
  ASSERT_TRUE(observer);
  int n = 0;
  for (const auto& bad : envelope_errors()) {
    SCOPED_TRACE(bad.what);
    const std::string nick = "victim" + std::to_string(n++);
    TestClient c = join(nick);
    ASSERT_TRUE(c);
    ASSERT_TRUE(next_join(observer, nick));
    ASSERT_TRUE(c.send_raw(bad.bytes));
    EXPECT_TRUE(error_then_close(c, bad.code));
    EXPECT_TRUE(next_leave(observer, nick));
  }
  expect_nothing_pending(observer, "observer", {}, "all victims gone");
}

TEST_P(Chatd, BadPacketInTheMiddleOfAStreamClosesAfterEarlierPackets) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  TestClient chris = join("chris");
  ASSERT_TRUE(chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  ASSERT_TRUE(chris.send_raw(frame(chat_json("first")) + frame("garbage")));
  EXPECT_TRUE(next_chat(chris, "chris", "first"));
  EXPECT_TRUE(error_then_close(chris, "bad-packet"));
  EXPECT_TRUE(next_chat(pat, "chris", "first"));
  EXPECT_TRUE(next_leave(pat, "chris"));
}

TEST_P(Chatd, SecondHelloIsBadPacketThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient observer = join("observer");
  ASSERT_TRUE(observer);
  for (const char* second : {"pat", "other"}) {
    SCOPED_TRACE(second);
    TestClient pat = join("pat");
    ASSERT_TRUE(pat);
    ASSERT_TRUE(next_join(observer, "pat"));
    ASSERT_TRUE(pat.send_hello(second));
    EXPECT_TRUE(error_then_close(pat, "bad-packet"));
    EXPECT_TRUE(next_leave(observer, "pat"));
  }
  expect_nothing_pending(observer, "observer", {}, "no other joined");
}

TEST_P(Chatd, HelloCapsNotListOfStringsIsBadPacketThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  for (const char* caps : {R"("dm")", R"({"dm":true})", R"([1])", R"(["dm",null])"}) {
    SCOPED_TRACE(caps);
    TestClient c = connect();
    ASSERT_TRUE(c.send_packet(std::string(R"({"type":"hello","nick":"pat","caps":)") + caps + "}"));
    EXPECT_TRUE(error_then_close(c, "bad-packet"));
  }
}

TEST_P(Chatd, FirstPacketNotHelloIsHelloRequiredThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  for (const char* first :
       {R"({"type":"chat","message":"hi"})", R"({"type":"chat"})", R"({"type":"who"})",
        R"({"type":"shout","message":"hi"})", R"({"type":"join","nick":"pat"})"}) {
    SCOPED_TRACE(first);
    TestClient c = connect();
    ASSERT_TRUE(c.send_packet(first));
    EXPECT_TRUE(error_then_close(c, "hello-required"));
  }
}

TEST_P(Chatd, InvalidNickIsNickInvalidThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  std::vector<std::string> hellos{
      R"({"type":"hello"})",
      R"({"type":"hello","nick":7})",
      R"({"type":"hello","nick":null})",
      R"({"type":"hello","nick":["pat"]})",
      hello_json(""),
      hello_json(std::string(33, 'a')),
      hello_json("pa t"),
      hello_json(" pat"),
      hello_json("pa\tt"),
      hello_json("pa\u3000t"),
      hello_json("pa\u00a0t"),
      hello_json("pa\x01t"),
      hello_json("pa\x7ft"),
      hello_json("pa\u0085t"),
      hello_json("\x1b[31mred"),
  };
  for (const char c : std::string(":/*@,#!")) {
    hellos.push_back(hello_json(std::string("pa") + c + "t"));
  }
  std::string cjk33;
  for (int i = 0; i < 33; ++i) {
    cjk33 += "汉";
  }
  hellos.push_back(hello_json(cjk33));
  for (const auto& hello : hellos) {
    SCOPED_TRACE(hello);
    TestClient c = connect();
    ASSERT_TRUE(c.send_packet(hello));
    EXPECT_TRUE(error_then_close(c, "nick-invalid"));
  }
}

TEST_P(Chatd, TakenNickIsNickTakenThenCloseComparedOnCaseFoldedSkeletons) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  for (const char* nick : {"pat", "PAT", "Pat", "pAt"}) {
    SCOPED_TRACE(nick);
    TestClient c = connect();
    ASSERT_TRUE(c.send_hello(nick));
    EXPECT_TRUE(error_then_close(c, "nick-taken"));
  }
  // Unicode case folding (PROTOCOL-DECISIONS.md 11): É and é are one nick.
  TestClient upper = join("Éloïse");
  ASSERT_TRUE(upper);
  ASSERT_TRUE(next_join(pat, "Éloïse"));
  TestClient lower = connect();
  ASSERT_TRUE(lower.send_hello("éloïse"));
  EXPECT_TRUE(error_then_close(lower, "nick-taken"));
}

// Issue 10 item 7: with pat connected, each look-alike seen accepted is refused, as an
// invalid nick or as pat's (PROTOCOL-DECISIONS.md 26), and pat never sees it join.
TEST_P(Chatd, LookAlikesOfAConnectedNickAreRefused) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  const std::vector<std::pair<std::string, std::string>> look_alikes{
      {"p\u0430t", "nick-taken"},                  // Cyrillic а
      {"pa\u200bt", "nick-invalid"},               // zero width space
      {"pa\u200dt", "nick-invalid"},               // zero width joiner
      {"pa\u2060t", "nick-invalid"},               // word joiner
      {"pa\ufefft", "nick-invalid"},               // byte order mark
      {"pa\u00adt", "nick-invalid"},               // soft hyphen
      {"pa\u034ft", "nick-invalid"},               // combining grapheme joiner
      {"pat\u0336", "nick-invalid"},               // combining overlay
      {"\u0301pat", "nick-invalid"},               // leading combining mark
      {"\u202etap", "nick-invalid"},               // right-to-left override
      {"\u2066pat\u2069", "nick-invalid"},         // left-to-right isolate
      {"pat\U000e0061", "nick-invalid"},           // tag character
      {"\uff50\uff41\uff54", "nick-taken"},        // fullwidth ｐａｔ
      {"pat\u3164", "nick-invalid"},               // Hangul filler
      {"\uff0a\uff0a\uff0a", "nick-invalid"},      // ＊＊＊, the client's info marker
      {"pat\u2800->\u2800chris", "nick-invalid"},  // renders like a DM
  };
  for (const auto& [nick, code] : look_alikes) {
    SCOPED_TRACE(nick);
    TestClient c = connect();
    ASSERT_TRUE(c.send_hello(nick));
    EXPECT_TRUE(error_then_close(c, code));
  }
  expect_nothing_pending(pat, "pat", {}, "no look-alike joined");
}

// Issue 10 item 7: `lobby` and `lobby\u200b` were two rooms. A spelling with an invisible
// character is bad-room; a confusable spelling of an existing room enters that room.
TEST_P(Chatd, RoomLookAlikesAreRefusedOrTheSameRoom) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  auto modern = [&](const std::string& nick) {
    TestClient c = connect();
    EXPECT_TRUE(c.send_packet(R"({"type":"hello","nick":")" + nick + R"(","caps":["rooms"]})"));
    EXPECT_TRUE(next_is(c, "welcome", {{"nick", nick}}));
    EXPECT_TRUE(next_is(c, "join", {{"nick", nick}, {"room", "lobby"}}));
    return c;
  };
  TestClient pat = modern("pat");
  TestClient chris = modern("chris");
  ASSERT_TRUE(next_is(pat, "join", {{"nick", "chris"}, {"room", "lobby"}}));

  ASSERT_TRUE(chris.send_packet("{\"type\":\"enter\",\"room\":\"lobby\\u200b\"}"));
  EXPECT_TRUE(next_is(chris, "error", {{"code", "bad-room"}}));
  // Fullwidth lobby is the lobby chris is in: nothing happens.
  ASSERT_TRUE(
      chris.send_packet("{\"type\":\"enter\",\"room\":\"\\uff4c\\uff4f\\uff42\\uff42\\uff59\"}"));
  expect_nothing_pending(chris, "chris", {&pat}, "still in the lobby");

  ASSERT_TRUE(pat.send_packet(R"({"type":"enter","room":"games"})"));
  EXPECT_TRUE(next_is(pat, "join", {{"nick", "pat"}, {"room", "games"}}));
  EXPECT_TRUE(next_is(chris, "leave", {{"nick", "pat"}, {"room", "lobby"}}));
  ASSERT_TRUE(chris.send_packet("{\"type\":\"enter\",\"room\":\"g\\u0430mes\"}"));  // Cyrillic а
  EXPECT_TRUE(next_is(chris, "join", {{"nick", "chris"}, {"room", "games"}}));
  EXPECT_TRUE(next_is(pat, "join", {{"nick", "chris"}, {"room", "games"}}));
  expect_nothing_pending(pat, "pat", {&chris}, "one room");
}

TEST_P(Chatd, NickIsFreeAgainAfterItsOwnerLeft) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient observer = join("observer");
  ASSERT_TRUE(observer);
  {
    TestClient pat = join("pat");
    ASSERT_TRUE(pat);
    ASSERT_TRUE(next_join(observer, "pat"));
  }
  ASSERT_TRUE(next_leave(observer, "pat"));  // the server has processed the close
  TestClient again = join("PAT");
  EXPECT_TRUE(again);
}

TEST_P(Chatd, SilentConnectionGetsHelloTimeoutThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--hello-timeout=0.3"}));
  TestClient silent = connect();
  ASSERT_TRUE(silent);
  TestClient half = connect();
  ASSERT_TRUE(half);
  ASSERT_TRUE(half.send_raw(frame(hello_json("half")).substr(0, 7)));
  EXPECT_TRUE(error_then_close(silent, "hello-timeout"));
  EXPECT_TRUE(error_then_close(half, "hello-timeout"));
}

TEST_P(Chatd, JoinedClientIsNotSubjectToHelloTimeout) {
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--hello-timeout=1"}));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  // A connection opened after pat joined times out; by then pat has been connected
  // longer than the hello timeout too, and must still be served.
  TestClient silent = connect();
  ASSERT_TRUE(silent);
  EXPECT_TRUE(error_then_close(silent, "hello-timeout"));
  expect_nothing_pending(pat, "pat", {}, "still here after the hello timeout");
}

TEST_P(Chatd, ClientOverTheLimitGetsServerFullThenClose) {
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--max-clients=2"}));
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  {
    TestClient third = connect();
    ASSERT_TRUE(third);
    EXPECT_TRUE(error_then_close(third, "server-full"));
  }
  // Nothing about the refused client reaches the others.
  expect_nothing_pending(pat, "pat", {&chris}, "still two of us");
  // A slot frees when someone leaves.
  chris.close();
  ASSERT_TRUE(next_leave(pat, "chris"));
  TestClient leslie = join("leslie");
  ASSERT_TRUE(leslie);
  EXPECT_TRUE(next_join(pat, "leslie"));
}

TEST_P(Chatd, ServerFullErrorArrivesEvenIfTheClientSentHello) {
  // A course client sends hello right after connecting; it must still see why it
  // was refused, not a bare reset.
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--max-clients=1"}));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  TestClient eager = connect();
  ASSERT_TRUE(eager.send_hello("eager"));
  auto r = eager.recv();
  ASSERT_EQ(r.status, TestClient::Status::kPacket) << status_name(r.status);
  EXPECT_EQ(r.packet.type, "error");
  EXPECT_EQ(r.packet.get("code"), "server-full");
}

TEST_P(Chatd, FloodIsErrorThenCloseAndOneLeave) {
  // A bucket of 5 packets that practically never refills.
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--flood-rate=0.001", "--flood-burst=5"}));
  TestClient observer = join("observer");
  TestClient flooder = join("flooder");
  ASSERT_TRUE(observer && flooder);
  ASSERT_TRUE(next_join(observer, "flooder"));
  std::string burst;
  for (int i = 0; i < 20; ++i) {
    burst += frame(chat_json("flood " + std::to_string(i)));
  }
  ASSERT_TRUE(flooder.send_raw(burst));
  // The lines within the burst allowance are served in order, then the error, then EOF.
  std::vector<Packet> got;
  const auto end = flooder.read_until_closed(got);
  EXPECT_EQ(end, TestClient::Status::kEof) << status_name(end);
  ASSERT_FALSE(got.empty());
  const Packet& last = got.back();
  EXPECT_EQ(last.type, "error") << last.raw;
  EXPECT_EQ(last.get("code"), "flood") << last.raw;
  EXPECT_FALSE(last.get("message").empty());
  const std::size_t served = got.size() - 1;
  EXPECT_LE(served, 5u);
  for (std::size_t i = 0; i < served; ++i) {
    EXPECT_EQ(got[i].type, "chat") << got[i].raw;
    EXPECT_EQ(got[i].get("message"), "flood " + std::to_string(i)) << got[i].raw;
  }
  for (std::size_t i = 0; i < served; ++i) {
    EXPECT_TRUE(next_chat(observer, "flooder", "flood " + std::to_string(i)));
  }
  EXPECT_TRUE(next_leave(observer, "flooder"));
  expect_nothing_pending(observer, "observer", {}, "the flood is over");
}

// ---- errors that leave the connection open ----------------------------------

TEST_P(Chatd, LegacyConnectionDropsNonFatalErrorsSilentlyAndStaysOpen) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_join(pat, "chris"));
  const std::vector<std::pair<const char*, std::string>> bad{
      {"bad-packet: chat without message", R"({"type":"chat"})"},
      {"bad-packet: message not a string", R"({"type":"chat","message":5})"},
      {"bad-packet: message null", R"({"type":"chat","message":null})"},
      {"bad-message: empty", R"({"type":"chat","message":""})"},
      {"bad-message: BEL", R"({"type":"chat","message":"a\u0007b"})"},
      {"bad-message: newline", R"({"type":"chat","message":"two\nlines"})"},
      {"bad-message: escape sequence", R"({"type":"chat","message":"\u001b[2J"})"},
      {"bad-message: NUL", R"({"type":"chat","message":"a\u0000b"})"},
      {"bad-message: DEL", R"({"type":"chat","message":"a\u007fb"})"},
      {"bad-message: C1 raw",
       "{\"type\":\"chat\",\"message\":\"a\xc2\x9b"
       "2J\"}"},
      {"unknown-type", R"({"type":"shout","message":"hi"})"},
      {"unknown-type: server packet type", R"({"type":"join","nick":"mallory"})"},
      {"bad-room", R"({"type":"enter","room":"#no"})"},
      {"bad-packet: enter without room", R"({"type":"enter"})"},
      {"bad-packet: dm without to", R"({"type":"dm","message":"hi"})"},
      {"no-such-nick", R"({"type":"dm","to":"nobody","message":"hi"})"},
  };
  int n = 0;
  for (const auto& [what, payload] : bad) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(chris.send_packet(payload));
    // Served in order: an error or echo of the bad packet would come before this.
    const std::string marker = "still here " + std::to_string(n++);
    ASSERT_TRUE(chris.send_chat(marker));
    EXPECT_TRUE(next_chat(chris, "chris", marker));
    EXPECT_TRUE(next_chat(pat, "chris", marker));
  }
}

// ---- slow readers -----------------------------------------------------------

TEST_P(Chatd, SlowReaderIsClosedAloneAndOthersKeepReceiving) {
  ASSERT_NO_FATAL_FAILURE(
      start_chatd({"--sendq-limit=131072", "--flood-rate=0", "--flood-bytes-rate=0"}));
  TestClient fast = join("fast");
  TestClient writer = join("writer");
  ASSERT_TRUE(fast && writer);
  ASSERT_TRUE(next_join(fast, "writer"));
  TestClient slow = connect(/*rcvbuf=*/4096);
  ASSERT_TRUE(slow.send_hello("slow"));
  ASSERT_TRUE(next_join(slow, "slow"));
  ASSERT_TRUE(next_join(fast, "slow"));
  ASSERT_TRUE(next_join(writer, "slow"));
  // From here on `slow` reads nothing.

  const std::string pad(4000, 'p');
  struct Reader {
    TestClient* client;
    int next = 0;
    int leaves = 0;
    std::string problem;
  };
  Reader readers[] = {{&fast, 0, 0, {}}, {&writer, 0, 0, {}}};
  auto take = [&](Reader& r) {
    while (auto p = r.client->take_buffered()) {
      if (p->type == "leave" && p->get("nick") == "slow") {
        ++r.leaves;
      } else if (p->type == "chat" && p->get("nick") == "writer" &&
                 p->get("message") == std::to_string(r.next) + pad) {
        ++r.next;
      } else if (r.problem.empty()) {
        r.problem = "expected chat #" + std::to_string(r.next) + " or leave slow, got " +
                    p->raw.substr(0, 200);
      }
    }
  };
  auto pump_all = [&] {
    for (auto& r : readers) {
      ASSERT_TRUE(r.client->pump()) << "a fast reader was disconnected";
      take(r);
      ASSERT_TRUE(r.problem.empty()) << r.problem;
    }
  };
  // Send until the slow one is dropped (bounded: 16 MB is far past any socket buffer).
  // At most four lines are in flight, so the readers that do read never have more
  // than 16 KB waiting for them: only `slow` can reach the limit.
  int sent = 0;
  constexpr int kMaxMessages = 4000;
  constexpr int kWindow = 4;
  const auto deadline = std::chrono::steady_clock::now() + 6 * kPatience;
  while (readers[0].leaves == 0 && sent < kMaxMessages &&
         std::chrono::steady_clock::now() < deadline) {
    if (sent - readers[0].next >= kWindow || sent - readers[1].next >= kWindow) {
      pollfd fds[] = {{fast.fd(), POLLIN, 0}, {writer.fd(), POLLIN, 0}};
      ::poll(fds, 2, 200);
    } else {
      ASSERT_TRUE(writer.send_chat(std::to_string(sent) + pad));
      ++sent;
    }
    pump_all();
    if (HasFatalFailure()) {
      return;
    }
  }
  ASSERT_EQ(readers[0].leaves, 1) << "slow reader not dropped after " << sent << " messages of "
                                  << pad.size() << " bytes with --sendq-limit=131072";
  // The others go on as before.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(writer.send_chat(std::to_string(sent) + pad));
    ++sent;
  }
  const auto until = std::chrono::steady_clock::now() + kPatience;
  while ((readers[0].next < sent || readers[1].next < sent) &&
         std::chrono::steady_clock::now() < until) {
    pollfd fds[] = {{fast.fd(), POLLIN, 0}, {writer.fd(), POLLIN, 0}};
    ::poll(fds, 2, 200);
    pump_all();
    if (HasFatalFailure()) {
      return;
    }
  }
  EXPECT_EQ(readers[0].next, sent);
  EXPECT_EQ(readers[1].next, sent);
  EXPECT_EQ(readers[0].leaves, 1);
  EXPECT_EQ(readers[1].leaves, 1);
  // The slow one finds its connection closed once it reads.
  std::vector<Packet> leftovers;
  const auto end = slow.read_until_closed(leftovers);
  EXPECT_TRUE(end == TestClient::Status::kEof || end == TestClient::Status::kReset)
      << status_name(end);
}

TEST_P(Chatd, BurstLargerThanSendqLimitDoesNotDropReadersThatKeepUp) {
  // One client writes 256 KB of chat in one go (four times the limit) while everyone reads as fast
  // as it can. Nobody is slow, so nobody may be dropped: a client's burst must not disconnect the
  // others (or itself) just because it arrived in one read.
  ASSERT_NO_FATAL_FAILURE(start_chatd({"--sendq-limit=65537"}));  // the smallest accepted
  TestClient reader = join("reader");
  TestClient writer = join("writer");
  ASSERT_TRUE(reader && writer);
  ASSERT_TRUE(next_join(reader, "writer"));
  const std::string pad(4000, 'b');
  constexpr int kCount = 64;
  std::string burst;
  for (int i = 0; i < kCount; ++i) {
    burst += frame(chat_json(std::to_string(i) + pad));
  }
  ASSERT_TRUE(writer.send_raw(burst));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(next_chat(reader, "writer", std::to_string(i) + pad)) << "reader, chat #" << i;
    ASSERT_TRUE(next_chat(writer, "writer", std::to_string(i) + pad)) << "writer, chat #" << i;
  }
}

// ---- shutdown ---------------------------------------------------------------

TEST_P(Chatd, SigtermDeliversQueuedMessagesThenExitsZero) {
  ASSERT_NO_FATAL_FAILURE(
      start_chatd({"--sendq-limit=16777216", "--flood-rate=0", "--flood-bytes-rate=0"}));
  TestClient talker = join("talker");
  ASSERT_TRUE(talker);
  // A small receive window keeps the kernel from absorbing what chatd has queued.
  TestClient sleeper = connect(/*rcvbuf=*/4096);
  ASSERT_TRUE(sleeper.send_hello("sleeper"));
  ASSERT_TRUE(next_join(sleeper, "sleeper"));
  ASSERT_TRUE(next_join(talker, "sleeper"));
  // ~1.6 MB for the sleeper, far more than the socket buffers hold: most of it waits
  // in chatd's queue when SIGTERM arrives.
  const std::string pad(4000, 'q');
  constexpr int kCount = 400;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(talker.send_chat(std::to_string(i) + pad));
    talker.pump();
  }
  // Our own echo of the last line proves chatd has read and queued all of them.
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(next_chat(talker, "talker", std::to_string(i) + pad)) << i;
  }
  ASSERT_TRUE(chatd().signal(SIGTERM));
  std::vector<Packet> got;
  const auto end = sleeper.read_until_closed(got, 3 * kPatience);
  EXPECT_EQ(end, TestClient::Status::kEof) << status_name(end);
  ASSERT_GE(got.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].type, "chat") << got[i].raw.substr(0, 100);
    ASSERT_EQ(got[i].get("nick"), "talker");
    ASSERT_TRUE(got[i].get("message") == std::to_string(i) + pad) << "chat #" << i << " altered";
  }
  // After them only the shutdown notice (legacy fallback) or leaves may come.
  for (std::size_t i = kCount; i < got.size(); ++i) {
    EXPECT_TRUE(got[i].type == "leave" || (got[i].type == "chat" && got[i].get("nick") == "***"))
        << got[i].raw;
  }
  const auto status = chatd().wait_exit();
  ASSERT_TRUE(status.has_value()) << "chatd did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);
}

TEST_P(Chatd, SigtermTellsLegacyClientsServerShuttingDownThenCloses) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(chatd().signal(SIGTERM));
  std::vector<Packet> got;
  const auto end = pat.read_until_closed(got);
  EXPECT_EQ(end, TestClient::Status::kEof) << status_name(end);
  const bool notice = std::any_of(got.begin(), got.end(), [](const Packet& p) {
    return p.type == "chat" && p.get("nick") == "***" && p.get("message") == "server shutting down";
  });
  EXPECT_TRUE(notice) << "expected the info fallback {\"type\":\"chat\",\"nick\":\"***\","
                         "\"message\":\"server shutting down\"}; got "
                      << got.size() << " packets";
  const auto status = chatd().wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);
}

TEST_P(Chatd, SigtermWithHalfReadClientStillExitsZero) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  TestClient pat = join("pat");
  TestClient idle = connect();  // never says hello
  ASSERT_TRUE(pat && idle);
  ASSERT_TRUE(idle.send_raw(std::string("\x00", 1)));  // half a length prefix
  const auto status = chatd().terminate();
  ASSERT_TRUE(status.has_value()) << "chatd did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Chatd, ::testing::Values("select", "epoll"), backend_test_name);

// ---- command line -----------------------------------------------------------

TEST(ChatdCommandLine, BadArgumentsGiveUsageAndExit64) {
  const std::vector<std::vector<std::string>> cases{
      {},  // no port and no inherited socket
      {"--no-such-option", "3490"},
      {"--max-clients=many", "3490"},
      {"--hello-timeout=soon", "3490"},
      {"--sendq-limit=-5", "3490"},
      {"--event-loop=kqueue", "3490"},
      {"not-a-port"},
      {"70000"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> argv{CHATD_PATH, "--control-socket="};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string joined;
    for (const auto& a : extra) {
      joined += a + " ";
    }
    SCOPED_TRACE(joined);
    const RunResult r = run_process(argv);
    EXPECT_EQ(r.exit_code, 64) << r.describe() << "\n" << r.output();
    EXPECT_FALSE(r.output().empty()) << "no usage message";
  }
}

TEST(ChatdCommandLine, HelpExitsZero) {
  const RunResult r = run_process({CHATD_PATH, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.output().find("--max-clients"), std::string::npos) << r.output();
}

}  // namespace
}  // namespace chat::test
