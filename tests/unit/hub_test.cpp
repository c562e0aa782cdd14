// Hub logic without sockets: who receives what, in which order, and when sessions close.
#include "daemon/hub.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/frame.hpp"

namespace chat::daemon {
namespace {

// Records every frame per session, decoded, plus the close requests.
class RecordingOutbox final : public Outbox {
 public:
  void send(SessionId id, const Frame& frame) override {
    if (!recording) {
      return;  // a test building a large room skips the per-delivery decode
    }
    frames[id].push_back(frame);
    proto::FrameDecoder d;
    d.feed(frame.bytes());
    std::string_view payload;
    EXPECT_EQ(d.next(payload), proto::FrameDecoder::Status::kFrame);
    EXPECT_EQ(d.buffered(), 0U);
    auto decoded = proto::decode_server(payload);
    ASSERT_TRUE(std::holds_alternative<proto::ServerPacket>(decoded)) << payload;
    packets[id].push_back(std::get<proto::ServerPacket>(decoded));
    json[id].emplace_back(payload);
  }
  bool recording = true;
  void close(SessionId id, std::string_view reason) override {
    EXPECT_EQ(closed.count(id), 0U) << "closed twice";
    closed[id] = std::string(reason);
  }
  std::vector<proto::ServerPacket> take(SessionId id) {
    auto out = std::move(packets[id]);
    packets[id].clear();
    json[id].clear();
    return out;
  }
  std::map<SessionId, std::vector<Frame>> frames;
  std::map<SessionId, std::vector<proto::ServerPacket>> packets;
  std::map<SessionId, std::vector<std::string>> json;
  std::map<SessionId, std::string> closed;
};

std::string hello(std::string_view nick) {
  return proto::encode(proto::ClientPacket{proto::Hello{std::string(nick), std::nullopt}});
}
std::string hello_caps(std::string_view nick, std::vector<std::string> caps) {
  return proto::encode(proto::ClientPacket{proto::Hello{std::string(nick), std::move(caps)}});
}
std::string chat(std::string_view text) {
  return proto::encode(proto::ClientPacket{proto::ChatRequest{std::string(text)}});
}
std::string packet(proto::ClientPacket p) {
  return proto::encode(p);
}

const std::vector<std::string> kAllCaps{"dm", "emote", "who", "rooms", "info", "history"};

class HubTest : public ::testing::Test {
 protected:
  void join(SessionId id, std::string_view nick) {
    hub.connect(id, "127.0.0.1:" + std::to_string(1000 + id));
    hub.receive(id, hello(nick));
  }
  void join_modern(SessionId id, std::string_view nick,
                   const std::vector<std::string>& caps = kAllCaps) {
    hub.connect(id, "127.0.0.1:" + std::to_string(1000 + id));
    hub.receive(id, hello_caps(nick, caps));
  }
  template <typename T>
  static const T& as(const proto::ServerPacket& p) {
    EXPECT_TRUE(std::holds_alternative<T>(p)) << proto::encode(p);
    static const T empty{};
    const T* v = std::get_if<T>(&p);
    return v != nullptr ? *v : empty;
  }
  static std::string error_code(const proto::ServerPacket& p) { return as<proto::Error>(p).code; }

  RecordingOutbox out;
  Hub hub{out, HubConfig{3}};
};

TEST_F(HubTest, JoinReachesEveryoneIncludingNewcomer) {
  join(1, "pat");
  join(2, "chris");
  auto a = out.take(1);
  auto b = out.take(2);
  ASSERT_EQ(a.size(), 2U);
  EXPECT_EQ(as<proto::Join>(a[0]).nick, "pat");
  EXPECT_EQ(as<proto::Join>(a[1]).nick, "chris");
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(as<proto::Join>(b[0]).nick, "chris");
  // Legacy join is exactly the part 1 packet.
  join(3, "leslie");
  EXPECT_EQ(out.json[3].at(0), R"({"type":"join","nick":"leslie"})");
}

TEST_F(HubTest, ChatReachesEveryJoinedClientIncludingSenderWithOneSharedFrame) {
  join(1, "pat");
  join(2, "chris");
  hub.connect(3, "peer");  // not joined: receives nothing
  out.frames.clear();
  out.take(1);
  out.take(2);
  hub.receive(1, chat("hello 你好 😀"));
  ASSERT_EQ(out.frames[1].size(), 1U);
  ASSERT_EQ(out.frames[2].size(), 1U);
  EXPECT_TRUE(out.frames[1][0].same(out.frames[2][0])) << "encoded once, shared";
  EXPECT_TRUE(out.frames[3].empty());
  EXPECT_EQ(out.json[2].at(0), R"({"type":"chat","nick":"pat","message":"hello 你好 😀"})");
}

TEST_F(HubTest, LeaveAnnouncedExactlyOnce) {
  join(1, "pat");
  join(2, "chris");
  out.take(1);
  hub.disconnect(2, "eof");
  hub.disconnect(2, "eof");
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 1U);
  EXPECT_EQ(as<proto::Leave>(a[0]).nick, "chris");
  EXPECT_FALSE(hub.joined(2));
}

TEST_F(HubTest, NoLeaveForClientThatNeverJoined) {
  join(1, "pat");
  out.take(1);
  hub.connect(2, "peer");
  hub.disconnect(2, "eof");
  EXPECT_TRUE(out.take(1).empty());
}

TEST_F(HubTest, FirstPacketNotHelloIsHelloRequiredAndCloses) {
  hub.connect(1, "peer");
  hub.receive(1, chat("hi"));
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 1U);
  EXPECT_EQ(error_code(a[0]), "hello-required");
  EXPECT_EQ(out.closed.count(1), 1U);
}

TEST_F(HubTest, UnknownTypeBeforeHelloIsHelloRequired) {
  hub.connect(1, "peer");
  hub.receive(1, R"({"type":"dance"})");
  EXPECT_EQ(error_code(out.take(1).at(0)), "hello-required");
}

TEST_F(HubTest, SecondHelloIsBadPacketClosesAndAnnouncesLeave) {
  join(1, "pat");
  join(2, "chris");
  out.take(1);
  out.take(2);
  hub.receive(2, hello("chris"));
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(error_code(b[0]), "bad-packet");
  EXPECT_EQ(out.closed.count(2), 1U);
  EXPECT_EQ(as<proto::Leave>(out.take(1).at(0)).nick, "chris");
}

TEST_F(HubTest, NickTakenComparesCaseFoldedConfusableSkeletons) {
  join(1, "Pat");
  SessionId id = 2;
  // Case, compatibility forms and confusable letters (PROTOCOL-DECISIONS.md 11, 26).
  for (const std::string nick : {"pAT", "\uff50\uff41\uff54", "p\u0430t"}) {
    hub.connect(id, "peer");
    hub.receive(id, hello(nick));
    EXPECT_EQ(error_code(out.take(id).at(0)), "nick-taken") << nick;
    EXPECT_EQ(out.closed.count(id), 1U) << nick;
    ++id;
  }
  join(10, "É");
  hub.connect(11, "peer");
  hub.receive(11, hello("é"));
  EXPECT_EQ(error_code(out.take(11).at(0)), "nick-taken");
  join(12, "pet");
  EXPECT_TRUE(hub.joined(12));
}

TEST_F(HubTest, NickFreedAfterLeave) {
  join(1, "pat");
  hub.disconnect(1, "eof");
  join(2, "PAT");
  EXPECT_TRUE(hub.joined(2));
}

TEST_F(HubTest, LegacyConnectionOpenErrorsAreDroppedSilently) {
  join(1, "pat");
  out.take(1);
  hub.receive(1, R"({"type":"chat"})");
  hub.receive(1, chat(""));
  hub.receive(1, R"({"type":"dance"})");
  hub.receive(1, packet(proto::DmRequest{"nobody", "hi"}));
  EXPECT_TRUE(out.take(1).empty());
  EXPECT_EQ(out.closed.count(1), 0U);
  hub.receive(1, chat("still here"));
  EXPECT_EQ(as<proto::Chat>(out.take(1).at(0)).message, "still here");
}

TEST_F(HubTest, ModernConnectionGetsOpenErrorsAndStaysOpen) {
  join_modern(1, "pat");
  out.take(1);
  hub.receive(1, R"({"type":"chat"})");
  hub.receive(1, chat("bell\x07"));
  hub.receive(1, R"({"type":"dance"})");
  hub.receive(1, packet(proto::DmRequest{"nobody", "hi"}));
  hub.receive(1, R"({"type":"enter","room":"bad room"})");
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 5U);
  EXPECT_EQ(error_code(a[0]), "bad-packet");
  EXPECT_EQ(error_code(a[1]), "bad-message");
  EXPECT_EQ(error_code(a[2]), "unknown-type");
  EXPECT_EQ(error_code(a[3]), "no-such-nick");
  EXPECT_EQ(error_code(a[4]), "bad-room");
  for (const auto& p : a) {
    EXPECT_FALSE(as<proto::Error>(p).message.empty());
  }
  EXPECT_EQ(out.closed.count(1), 0U);
}

TEST_F(HubTest, ModernGetsWelcomeThenHistoryThenJoin) {
  join(1, "pat");
  hub.receive(1, chat("one"));
  hub.receive(1, chat("two"));
  join_modern(2, "chris", {"history", "zzz", "dm", "history"});
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 4U);
  const auto& w = as<proto::Welcome>(b[0]);
  EXPECT_EQ(w.nick, "chris");
  EXPECT_EQ(w.room, "lobby");
  EXPECT_EQ(w.caps, (std::vector<std::string>{"history", "dm"}));
  EXPECT_EQ(w.server.rfind("chatd/", 0), 0U);
  EXPECT_EQ(as<proto::Chat>(b[1]).message, "one");
  EXPECT_TRUE(as<proto::Chat>(b[1]).history);
  EXPECT_EQ(as<proto::Chat>(b[2]).message, "two");
  EXPECT_EQ(as<proto::Join>(b[3]).nick, "chris");
}

TEST_F(HubTest, EmptyCapsIsModernWithoutExtensions) {
  join(1, "pat");
  hub.receive(1, chat("one"));
  join_modern(2, "chris", {});
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 2U);
  EXPECT_TRUE(as<proto::Welcome>(b[0]).caps.empty());
  EXPECT_EQ(as<proto::Join>(b[1]).nick, "chris");
}

TEST_F(HubTest, HistoryKeepsOnlyTheLastN) {
  join(1, "pat");
  for (int i = 0; i < 5; ++i) {
    hub.receive(1, chat("m" + std::to_string(i)));
  }
  join_modern(2, "chris", {"history"});
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 5U);  // welcome, 3 history, join
  EXPECT_EQ(as<proto::Chat>(b[1]).message, "m2");
  EXPECT_EQ(as<proto::Chat>(b[3]).message, "m4");
}

TEST(HubHistory, ZeroTurnsHistoryOff) {
  RecordingOutbox out;
  Hub hub(out, HubConfig{0});
  hub.connect(1, "p");
  hub.receive(1, hello("pat"));
  hub.receive(1, chat("one"));
  hub.connect(2, "p");
  hub.receive(2, hello_caps("chris", {"history"}));
  ASSERT_EQ(out.packets[2].size(), 2U);
  EXPECT_TRUE(std::holds_alternative<proto::Welcome>(out.packets[2][0]));
  EXPECT_TRUE(std::holds_alternative<proto::Join>(out.packets[2][1]));
}

TEST_F(HubTest, DmGoesToRecipientAndEchoesToSenderWithFallback) {
  join_modern(1, "pat");
  join(2, "chris");
  join(3, "leslie");
  out.take(1);
  out.take(2);
  out.take(3);
  hub.receive(1, packet(proto::DmRequest{"CHRIS", "how's it going?"}));
  const auto echo = as<proto::Dm>(out.take(1).at(0));
  EXPECT_EQ(echo.from, "pat");
  EXPECT_EQ(echo.to, "chris");
  EXPECT_EQ(out.json[2].at(0),
            R"({"type":"chat","nick":"pat -> chris","message":"how's it going?"})");
  EXPECT_TRUE(out.take(3).empty());
}

TEST_F(HubTest, EmoteNativeAndFallback) {
  join_modern(1, "pat");
  join(2, "chris");
  out.take(1);
  out.take(2);
  hub.receive(1, packet(proto::EmoteRequest{"goes out to buy some snacky cakes"}));
  EXPECT_EQ(as<proto::Emote>(out.take(1).at(0)).message, "goes out to buy some snacky cakes");
  const auto c = as<proto::Chat>(out.take(2).at(0));
  EXPECT_EQ(c.nick, "*");
  EXPECT_EQ(c.message, "pat goes out to buy some snacky cakes");
}

TEST_F(HubTest, WhoIsSortedAndOnlyForTheCap) {
  join_modern(1, "pat");
  join(2, "Zed");
  join(3, "émile");
  join(4, "alex");
  out.take(1);
  out.take(2);
  hub.receive(1, packet(proto::WhoRequest{}));
  const auto who = as<proto::WhoReply>(out.take(1).at(0));
  EXPECT_EQ(who.room, "lobby");
  EXPECT_EQ(who.nicks, (std::vector<std::string>{"Zed", "alex", "pat", "émile"}));
  hub.receive(2, packet(proto::WhoRequest{}));
  EXPECT_TRUE(out.take(2).empty());
}

TEST_F(HubTest, EnterMovesBetweenRoomsWithLeaveAndJoinToTheRoomsConcerned) {
  join_modern(1, "pat");
  join_modern(2, "chris");
  join(3, "leslie");
  out.take(1);
  out.take(2);
  out.take(3);
  hub.receive(1, packet(proto::EnterRequest{"games"}));
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 1U);
  EXPECT_EQ(as<proto::Join>(a[0]).room, std::optional<std::string>("games"));
  const auto b = out.take(2);
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(as<proto::Leave>(b[0]).room, std::optional<std::string>("lobby"));
  EXPECT_EQ(out.json[3].at(0), R"({"type":"leave","nick":"pat"})");  // legacy: no room member
  out.take(3);

  hub.receive(1, chat("in games"));
  EXPECT_EQ(out.take(1).size(), 1U);
  EXPECT_TRUE(out.take(2).empty());
  EXPECT_TRUE(out.take(3).empty());

  hub.receive(2, packet(proto::DmRequest{"pat", "crosses rooms"}));
  EXPECT_EQ(as<proto::Dm>(out.take(1).at(0)).message, "crosses rooms");

  hub.receive(2, packet(proto::RoomsRequest{}));
  const auto rooms = as<proto::RoomsReply>(out.take(2).at(1));
  ASSERT_EQ(rooms.rooms.size(), 2U);
  EXPECT_EQ(rooms.rooms[0].name, "games");
  EXPECT_EQ(rooms.rooms[0].users, 1U);
  EXPECT_EQ(rooms.rooms[1].name, "lobby");
  EXPECT_EQ(rooms.rooms[1].users, 2U);
}

TEST_F(HubTest, EnteringYourOwnRoomDoesNothing) {
  join_modern(1, "pat");
  out.take(1);
  hub.receive(1, packet(proto::EnterRequest{"lobby"}));
  EXPECT_TRUE(out.take(1).empty());
}

TEST_F(HubTest, RoomsAreOneByConfusableKeyAndKeepTheirFirstName) {
  join_modern(1, "pat");
  join_modern(2, "chris");
  out.take(1);
  hub.receive(1, packet(proto::EnterRequest{"\uff4c\uff4f\uff42\uff42\uff59"}));  // ｌｏｂｂｙ
  EXPECT_TRUE(out.take(1).empty());                                               // already there
  hub.receive(1, packet(proto::EnterRequest{"Games"}));
  out.take(1);
  out.take(2);
  hub.receive(2, packet(proto::EnterRequest{"g\u0430mes"}));  // Cyrillic а
  const auto joined = out.take(1);
  ASSERT_EQ(joined.size(), 1U);
  EXPECT_EQ(as<proto::Join>(joined[0]).room, std::optional<std::string>("Games"));
  out.take(2);
  hub.receive(2, packet(proto::RoomsRequest{}));
  const auto rooms = as<proto::RoomsReply>(out.take(2).at(0));
  ASSERT_EQ(rooms.rooms.size(), 2U);
  EXPECT_EQ(rooms.rooms[0].name, "Games");
  EXPECT_EQ(rooms.rooms[0].users, 2U);
  // Once empty, the room and its name go; the next spelling is the new first one.
  hub.receive(1, packet(proto::EnterRequest{"lobby"}));
  hub.receive(2, packet(proto::EnterRequest{"lobby"}));
  hub.receive(2, packet(proto::EnterRequest{"games"}));
  out.take(2);
  hub.receive(2, packet(proto::RoomsRequest{}));
  EXPECT_EQ(as<proto::RoomsReply>(out.take(2).at(0)).rooms[0].name, "games");
}

TEST_F(HubTest, EmptyRoomVanishesButLobbyStays) {
  join_modern(1, "pat");
  hub.receive(1, packet(proto::EnterRequest{"games"}));
  EXPECT_EQ(hub.room_count(), 2U);
  hub.receive(1, packet(proto::EnterRequest{"lobby"}));
  EXPECT_EQ(hub.room_count(), 1U);
  out.take(1);
  hub.receive(1, packet(proto::RoomsRequest{}));
  const auto rooms = as<proto::RoomsReply>(out.take(1).at(0));
  ASSERT_EQ(rooms.rooms.size(), 1U);
  EXPECT_EQ(rooms.rooms[0].name, "lobby");
}

TEST_F(HubTest, HistoryAfterEnterIsTheNewRoomsAndMoverOnly) {
  join_modern(1, "pat");
  hub.receive(1, packet(proto::EnterRequest{"games"}));
  hub.receive(1, chat("g1"));
  join_modern(2, "chris");
  out.take(1);
  out.take(2);
  hub.receive(2, packet(proto::EnterRequest{"games"}));
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 2U);
  EXPECT_EQ(as<proto::Chat>(b[0]).message, "g1");
  EXPECT_TRUE(as<proto::Chat>(b[0]).history);
  EXPECT_EQ(as<proto::Join>(b[1]).nick, "chris");
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 1U);
  EXPECT_EQ(as<proto::Join>(a[0]).nick, "chris");
}

TEST_F(HubTest, SayReachesEveryJoinedClientWithInfoFallback) {
  join_modern(1, "pat");
  join(2, "chris");
  hub.receive(1, packet(proto::EnterRequest{"games"}));
  out.take(1);
  out.take(2);
  EXPECT_EQ(hub.say("maintenance at noon"), 2U);
  EXPECT_EQ(as<proto::Info>(out.take(1).at(0)).message, "maintenance at noon");
  EXPECT_EQ(out.json[2].at(0), R"({"type":"chat","nick":"***","message":"maintenance at noon"})");
}

TEST_F(HubTest, KickSendsKickedClosesAndAnnouncesLeave) {
  join(1, "pat");
  join(2, "chris");
  out.take(1);
  out.take(2);
  EXPECT_EQ(hub.kick("nobody", ""), Hub::KickResult::kNoSuchNick);
  EXPECT_EQ(hub.kick("CHRIS", "spam"), Hub::KickResult::kKicked);
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(error_code(b[0]), "kicked");
  EXPECT_EQ(out.closed.at(2), "kicked");
  EXPECT_EQ(as<proto::Leave>(out.take(1).at(0)).nick, "chris");
  hub.disconnect(2, "eof");
  EXPECT_TRUE(out.take(1).empty()) << "leave exactly once";
}

// The text a kicked user reads, with and without a reason (a doubled default once
// made it "kicked by the operator: kicked by the operator").
TEST_F(HubTest, KickTellsTheUserTheReasonOnceOrNone) {
  join(1, "pat");
  join(2, "chris");
  out.take(1);
  out.take(2);
  EXPECT_EQ(hub.kick("pat", ""), Hub::KickResult::kKicked);
  EXPECT_EQ(as<proto::Error>(out.take(1).at(0)).message, "kicked by the operator");
  out.take(2);  // pat's leave
  EXPECT_EQ(hub.kick("chris", "spam"), Hub::KickResult::kKicked);
  EXPECT_EQ(as<proto::Error>(out.take(2).at(0)).message, "kicked by the operator: spam");
}

TEST_F(HubTest, SayTooLongForOneFrameSendsNothingAndSaysSo) {
  join(1, "pat");
  out.take(1);
  EXPECT_FALSE(hub.say(std::string(65530, 'x')));
  EXPECT_TRUE(out.take(1).empty());
  EXPECT_EQ(hub.say("noon"), std::optional<std::size_t>(1));
}

TEST_F(HubTest, FatalDecodeErrorsCloseEvenLegacyConnections) {
  join(1, "pat");
  join(2, "chris");
  out.take(1);
  out.take(2);
  hub.receive(2, "not json");
  EXPECT_EQ(error_code(out.take(2).at(0)), "bad-packet");
  EXPECT_EQ(out.closed.count(2), 1U);
  EXPECT_EQ(as<proto::Leave>(out.take(1).at(0)).nick, "chris");
}

TEST_F(HubTest, ZeroLengthFrameIsBadPacket) {
  hub.connect(1, "peer");
  hub.reject_frame(1);
  EXPECT_EQ(error_code(out.take(1).at(0)), "bad-packet");
  EXPECT_EQ(out.closed.count(1), 1U);
}

}  // namespace
}  // namespace chat::daemon

namespace chat::daemon {
namespace {

TEST(HubLimits, ChatTooLongToRelayIsBadMessageAndNothingIsSent) {
  RecordingOutbox out;
  Hub hub(out, HubConfig{3});
  hub.connect(1, "p");
  hub.receive(1, hello_caps("pat", {}));
  hub.connect(2, "p");
  hub.receive(2, hello("chris"));
  out.take(1);
  out.take(2);
  // Fits in the client's frame, but not once the server adds "nick".
  const std::string text(65535 - 40, 'x');
  const std::string payload = chat(text);
  ASSERT_LE(payload.size(), 65535U);
  hub.receive(1, payload);
  auto a = out.take(1);
  ASSERT_EQ(a.size(), 1U);
  EXPECT_EQ(std::get<proto::Error>(a[0]).code, "bad-message");
  EXPECT_TRUE(out.take(2).empty());
  EXPECT_EQ(out.closed.count(1), 0U);
}

TEST(HubLimits, WhoListTooLongForOneFrameIsTrimmedAndMarked) {
  RecordingOutbox out;
  Hub hub(out, HubConfig{0});
  hub.connect(1, "p");
  hub.receive(1, hello_caps("asker", {"who"}));
  // Nicks of 32 code points, 88 bytes each (28 three-byte Han characters and a
  // number), so about 740 of them fill a frame: 800 members overflow it with a
  // seventh of the join deliveries ASCII nicks would need (it runs under ASan too).
  std::string han;
  for (int i = 0; i < 28; ++i) {
    han += "\xe6\xbc\xa2";  // U+6F22
  }
  out.recording = false;  // 800 joins make 320 000 join deliveries
  for (SessionId id = 2; id < 801; ++id) {
    hub.connect(id, "p");
    hub.receive(id, hello(han + std::to_string(1000 + id)));
    ASSERT_TRUE(hub.joined(id)) << id;
  }
  out.recording = true;
  out.packets.clear();
  out.frames.clear();
  hub.receive(1, packet(proto::WhoRequest{}));
  ASSERT_EQ(out.frames[1].size(), 1U);
  EXPECT_LE(out.frames[1][0].size(), 2U + 65535U);
  const auto& who = std::get<proto::WhoReply>(out.packets[1].at(0));
  EXPECT_TRUE(who.truncated);
  EXPECT_GT(who.nicks.size(), 600U);
  EXPECT_LT(who.nicks.size(), 800U);
  EXPECT_TRUE(std::is_sorted(who.nicks.begin(), who.nicks.end()));
}

}  // namespace
}  // namespace chat::daemon

namespace chat::daemon {
namespace {

TEST(HubHistory, LoweringTheSizeTrimsEveryRoomAtOnce) {
  RecordingOutbox out;
  Hub hub(out, HubConfig{5});
  hub.connect(1, "p");
  hub.receive(1, hello("pat"));
  for (int i = 1; i <= 5; ++i) {
    hub.receive(1, chat("line " + std::to_string(i)));
  }
  hub.set_config(HubConfig{2});
  hub.connect(2, "p");
  hub.receive(2, hello_caps("chris", {"history"}));
  auto b = out.take(2);
  ASSERT_EQ(b.size(), 4U);  // welcome, 2 history lines, join
  EXPECT_EQ(std::get<proto::Chat>(b[1]).message, "line 4");
  EXPECT_EQ(std::get<proto::Chat>(b[2]).message, "line 5");
}

}  // namespace
}  // namespace chat::daemon

namespace chat::daemon {
namespace {

// Issue 13: the `time` cap stamps replayed history, and live lines, with when they were said.
TEST_F(HubTest, TimeCapStampsHistoryAndLiveLines) {
  join(1, "pat");
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  hub.receive(1, chat("said earlier"));
  join_modern(2, "chris", {"history", "time"});
  join_modern(3, "leslie", {"history"});
  auto timed = out.take(2);
  auto plain = out.take(3);
  ASSERT_GE(timed.size(), 2U);
  ASSERT_GE(plain.size(), 2U);
  const auto& stamped = as<proto::Chat>(timed[1]);
  ASSERT_TRUE(stamped.ts.has_value());
  EXPECT_GE(*stamped.ts, before);
  EXPECT_LE(*stamped.ts, before + 60000);
  EXPECT_FALSE(as<proto::Chat>(plain[1]).ts.has_value());
  // Live chat, emote and dm are stamped for the time cap only.
  out.take(1);
  hub.receive(1, chat("live"));
  const auto live = as<proto::Chat>(out.take(2).back());
  ASSERT_TRUE(live.ts.has_value());
  EXPECT_GE(*live.ts, *stamped.ts);
  EXPECT_FALSE(as<proto::Chat>(out.take(3).back()).ts.has_value());
  EXPECT_EQ(proto::encode(out.take(1).back()), R"({"type":"chat","nick":"pat","message":"live"})");
  hub.receive(3, R"({"type":"emote","message":"waves"})");
  EXPECT_TRUE(as<proto::Chat>(out.take(2).back()).ts.has_value());  // emote's fallback form
  EXPECT_FALSE(as<proto::Chat>(out.take(3).back()).ts.has_value());
  hub.receive(3, R"({"type":"dm","to":"chris","message":"psst"})");
  EXPECT_TRUE(as<proto::Chat>(out.take(2).back()).ts.has_value());  // dm's fallback form
  EXPECT_FALSE(as<proto::Chat>(out.take(3).back()).ts.has_value());
}

// Issue 13: the `moves` cap tells a room's members where a mover went.
TEST_F(HubTest, LeaveOnEnterNamesTheNewRoomOnlyForTheMovesCap) {
  join_modern(1, "pat");
  join_modern(2, "chris", {"rooms", "moves"});
  join_modern(3, "leslie", {"rooms"});
  join(4, "eve");
  out.take(2);
  out.take(3);
  out.take(4);
  hub.receive(1, packet(proto::EnterRequest{"games"}));
  const auto told = as<proto::Leave>(out.take(2).at(0));
  EXPECT_EQ(told.to, std::optional<std::string>("games"));
  EXPECT_EQ(told.room, std::optional<std::string>("lobby"));
  EXPECT_FALSE(as<proto::Leave>(out.take(3).at(0)).to.has_value());
  EXPECT_EQ(proto::encode(out.take(4).at(0)), R"({"type":"leave","nick":"pat"})");
  // Disconnecting is not a move.
  hub.receive(2, packet(proto::EnterRequest{"games"}));
  out.take(2);
  hub.disconnect(1, "eof");
  const auto gone = out.take(2);
  ASSERT_FALSE(gone.empty());
  EXPECT_FALSE(as<proto::Leave>(gone.back()).to.has_value());
}

}  // namespace
}  // namespace chat::daemon
