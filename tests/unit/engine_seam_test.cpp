// The hub's engine seam, driven by a fake "rest of the chat" that answers
// later (as a networked engine does): nicks held elsewhere, members and rooms
// elsewhere, events published once per room event, DMs routed beyond this
// node, and events from elsewhere fanned out to this node's members.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "daemon/hub.hpp"
#include "daemon/memory_engine.hpp"
#include "protocol/codec.hpp"
#include "protocol/rules.hpp"

namespace chat::daemon {
namespace {

class Recorder final : public Outbox {
 public:
  void send(SessionId id, const Frame& frame) override { json[id].emplace_back(frame.payload()); }
  void close(SessionId id, std::string_view reason) override { closed[id] = std::string(reason); }
  std::map<SessionId, std::vector<std::string>> json;
  std::map<SessionId, std::string> closed;
};

// Another node holds "remy" in room "lobby"; answers wait until run().
class FakeCluster final : public Engine {
 public:
  std::string_view name() const override { return "fake"; }
  bool available() const override { return reachable; }
  bool reachable = true;
  void claim_nick(const std::string& key, ClaimDone done) override {
    later.push_back([key, done = std::move(done)] { done(key != proto::nick_key("remy")); });
  }
  void release_nick(const std::string& key) override { released.push_back(key); }
  void member_joined(const std::string& room, const std::string& nick,
                     const RoomEvent& announce) override {
    joined.push_back(room + ":" + nick);
    announced.push_back(
        room + " " + (announce.native != nullptr ? std::string(announce.native->payload()) : ""));
  }
  void member_left(const std::string& room, const std::string& nick,
                   const RoomEvent& announce) override {
    left.push_back(room + ":" + nick);
    announced.push_back(
        room + " " + (announce.native != nullptr ? std::string(announce.native->payload()) : ""));
  }
  void remote_members(const std::string& room,
                      std::function<void(std::vector<std::string>)> done) override {
    later.push_back([room, done = std::move(done)] {
      done(room == "lobby" ? std::vector<std::string>{"remy"} : std::vector<std::string>{});
    });
  }
  void remote_rooms(
      std::function<void(std::vector<std::pair<std::string, std::size_t>>)> done) override {
    later.push_back([done = std::move(done)] { done({{"lobby", 1}, {"far", 2}}); });
  }
  void publish(const std::string& room, const RoomEvent& event) override {
    published.push_back(room + " " + std::string(event.native->payload()));
  }
  void direct(const std::string& to_key, const RoomEvent& event,
              std::function<void(bool)> done) override {
    directed.push_back(std::string(event.native->payload()));
    later.push_back([ok = to_key == proto::nick_key("remy"), done = std::move(done)] { done(ok); });
  }
  void set_history_limits(HistoryLimits limits) override { history.set_history_limits(limits); }
  void remember(const std::string& room, const Frame& live, const Frame* fallback,
                std::int64_t ts) override {
    history.remember(room, live, fallback, ts);
  }
  void replay(const std::string& room, bool emote_cap, bool time_cap, std::size_t max_bytes,
              const std::function<void(const Frame&)>& send) override {
    history.replay(room, emote_cap, time_cap, max_bytes, send);
  }
  void room_emptied(const std::string& room) override { history.room_emptied(room); }
  std::size_t local_history_bytes() const override { return history.local_history_bytes(); }
  bool shed_history() override { return history.shed_history(); }

  void run() {
    auto batch = std::move(later);
    later.clear();
    for (auto& f : batch) {
      f();
    }
  }
  std::vector<std::function<void()>> later;
  std::vector<std::string> released, joined, left, published, directed, announced;
  MemoryEngine history;
};

std::string request(proto::ClientPacket p) {
  return proto::encode(p);
}
std::string hello(std::string nick) {
  return request(proto::Hello{std::move(nick), std::vector<std::string>{"dm", "who", "rooms"}});
}

class EngineSeam : public ::testing::Test {
 protected:
  Recorder out;
  FakeCluster cluster;
  Hub hub{out, HubConfig{}, &cluster};
};

TEST_F(EngineSeam, HelloWaitsForTheClaimAndTheNickIsHeldMeanwhile) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  EXPECT_FALSE(hub.joined(1));
  hub.connect(2, "p2");
  hub.receive(2, hello("PAT"));  // same nick on this node while the claim is out
  EXPECT_EQ(out.closed[2], "nick-taken");
  cluster.run();
  EXPECT_TRUE(hub.joined(1));
  EXPECT_EQ(hub.joined_count(), 1U);
  EXPECT_EQ(cluster.joined, (std::vector<std::string>{"lobby:pat"}));
  // The join event goes with the membership (one message), whatever the
  // number of members; nothing else is published.
  EXPECT_EQ(cluster.announced,
            (std::vector<std::string>{R"(lobby {"type":"join","nick":"pat","room":"lobby"})"}));
  EXPECT_TRUE(cluster.published.empty());
}

TEST_F(EngineSeam, ALeaveGoesWithTheMembershipAndIsNotPublishedApart) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  hub.connect(2, "p2");
  hub.receive(2, hello("chris"));
  cluster.run();
  cluster.announced.clear();
  hub.disconnect(1, "eof");
  EXPECT_EQ(cluster.left, (std::vector<std::string>{"lobby:pat"}));
  EXPECT_EQ(cluster.announced,
            (std::vector<std::string>{R"(lobby {"type":"leave","nick":"pat","room":"lobby"})"}));
  EXPECT_TRUE(cluster.published.empty());
}

TEST_F(EngineSeam, UnreachableClusterRefusesHellosWithClusterUnavailable) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  cluster.run();
  ASSERT_TRUE(hub.joined(1));
  cluster.reachable = false;
  hub.connect(2, "p2");
  hub.receive(2, hello("chris"));
  EXPECT_EQ(out.closed[2], "cluster-unavailable");
  ASSERT_FALSE(out.json[2].empty());
  EXPECT_NE(out.json[2].back().find(R"("code":"cluster-unavailable")"), std::string::npos);
  // A claim that fails because the cluster went away meanwhile says so too.
  cluster.reachable = true;
  hub.connect(3, "p3");
  hub.receive(3, hello("remy"));
  cluster.reachable = false;
  cluster.run();
  EXPECT_EQ(out.closed[3], "cluster-unavailable");
  EXPECT_TRUE(hub.joined(1));  // the joined user stays
}

TEST_F(EngineSeam, EngineCallsForDirectLeftAndDroppedNicks) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  cluster.run();
  ASSERT_TRUE(hub.joined(1));
  out.json.clear();
  auto native = make_frame(proto::Dm{"remy", "pat", "hi"});
  auto fallback = make_frame(proto::Chat{"remy -> pat", "hi", false});
  hub.deliver_direct(proto::nick_key("PAT"), RoomEvent{&*native, &*fallback, 1, 5});
  ASSERT_EQ(out.json[1].size(), 1U);
  EXPECT_NE(out.json[1][0].find(R"("type":"dm")"), std::string::npos);
  hub.deliver_direct(proto::nick_key("nobody"), RoomEvent{&*native, &*fallback, 1, 5});
  EXPECT_EQ(out.json[1].size(), 1U);
  // Another node's user left the room (its node died): leave, with the room for `rooms`.
  hub.remote_left("lobby", "remy");
  ASSERT_EQ(out.json[1].size(), 2U);
  EXPECT_EQ(out.json[1][1], R"({"type":"leave","nick":"remy","room":"lobby"})");
  hub.remote_left("nowhere", "remy");
  EXPECT_EQ(out.json[1].size(), 2U);
  // A nick Redis gave to another node: the local user goes with nick-taken.
  hub.drop_nick(proto::nick_key("pat"));
  EXPECT_EQ(out.closed[1], "nick-taken");
  EXPECT_FALSE(hub.joined(1));
}

TEST_F(EngineSeam, NickHeldOnAnotherNodeIsTaken) {
  hub.connect(1, "p1");
  hub.receive(1, hello("remy"));
  cluster.run();
  EXPECT_EQ(out.closed[1], "nick-taken");
  EXPECT_FALSE(hub.joined(1));
  hub.connect(2, "p2");
  hub.receive(2, hello("remy2"));
  cluster.run();
  EXPECT_TRUE(hub.joined(2));
}

TEST_F(EngineSeam, SessionGoneBeforeTheClaimGivesTheNickBack) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  hub.disconnect(1, "eof");
  cluster.run();
  EXPECT_EQ(cluster.released, (std::vector<std::string>{proto::nick_key("pat")}));
  hub.connect(2, "p2");
  hub.receive(2, hello("pat"));  // the local hold went with the session
  cluster.run();
  EXPECT_TRUE(hub.joined(2));
}

TEST_F(EngineSeam, ChatIsPublishedOnceAndDeliveredEventsReachLocalMembers) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  hub.connect(2, "p2");
  hub.receive(2, hello("chris"));
  cluster.run();
  cluster.published.clear();
  hub.receive(1, request(proto::ChatRequest{"hi"}));
  ASSERT_EQ(cluster.published.size(), 1U);
  EXPECT_EQ(cluster.published[0], R"(lobby {"type":"chat","nick":"pat","message":"hi"})");
  out.json.clear();
  const auto remote = make_frame(proto::Chat{"remy", "from afar", false});
  hub.deliver("lobby", RoomEvent{&*remote, nullptr, 0, std::nullopt});
  for (const SessionId id : {1, 2}) {
    ASSERT_EQ(out.json[id].size(), 1U);
    EXPECT_EQ(out.json[id][0], R"({"type":"chat","nick":"remy","message":"from afar"})");
  }
}

TEST_F(EngineSeam, WhoAndRoomsIncludeOtherNodes) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  cluster.run();
  out.json.clear();
  hub.receive(1, request(proto::WhoRequest{}));
  hub.receive(1, request(proto::RoomsRequest{}));
  EXPECT_TRUE(out.json[1].empty());  // answered when the engine answers
  cluster.run();
  ASSERT_EQ(out.json[1].size(), 2U);
  EXPECT_EQ(out.json[1][0], R"({"type":"who","room":"lobby","nicks":["pat","remy"]})");
  EXPECT_EQ(out.json[1][1],
            R"({"type":"rooms","rooms":[{"name":"far","users":2},{"name":"lobby","users":2}]})");
}

TEST_F(EngineSeam, DmToANickElsewhereGoesThroughTheEngine) {
  hub.connect(1, "p1");
  hub.receive(1, hello("pat"));
  cluster.run();
  out.json.clear();
  hub.receive(1, request(proto::DmRequest{"remy", "psst"}));
  hub.receive(1, request(proto::DmRequest{"nobody", "hello?"}));
  ASSERT_EQ(cluster.directed.size(), 2U);
  cluster.run();
  ASSERT_EQ(out.json[1].size(), 2U);
  EXPECT_EQ(out.json[1][0], R"({"type":"dm","from":"pat","to":"remy","message":"psst"})");
  EXPECT_NE(out.json[1][1].find(R"("code":"no-such-nick")"), std::string::npos);
}

}  // namespace
}  // namespace chat::daemon
