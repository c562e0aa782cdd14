// 60 clients (legacy, modern, modern with few caps) in four rooms: each sees exactly its room.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/extensions/ext_support.hpp"
#include "tests/service/service_fixture.hpp"

namespace chat::test::ext {
namespace {

using MixedRooms = svc::ServiceTest;

constexpr int kClients = 60;
constexpr int kChatsEach = 3;
const std::vector<std::string> kRooms{"lobby", "red", "blue", "green"};

enum class Kind { kLegacy, kModern, kFewCaps };

struct Client {
  std::string nick;
  Kind kind;
  std::string room;  // where the model says it is
  bool gone = false;
  TestClient conn;
  std::vector<std::string> expected;  // canonical packets, joins and leaves phase
  std::vector<Packet> received;
};

// A packet as a comparable line: type and every member, sorted by name.
std::string canonical(const Packet& p) {
  std::string out;
  for (const auto& [k, v] : p.members) {
    out += k + "=" + v + "; ";
  }
  return out;
}

std::string presence(const std::string& type, const std::string& nick, const std::string& room,
                     const Client& to) {
  Packet p;
  p.members = {{"type", type}, {"nick", nick}};
  if (to.kind == Kind::kModern) {  // only the rooms cap adds the room
    p.members["room"] = room;
  }
  return canonical(p);
}

std::vector<std::string> caps_of(Kind kind) {
  return kind == Kind::kModern ? kAllCaps : std::vector<std::string>{"dm", "who"};
}

// Reads `c` until a packet satisfies `done` (kept in received too); bounded.
::testing::AssertionResult read_until(Client& c, const std::function<bool(const Packet&)>& done) {
  while (true) {
    auto r = c.conn.recv();
    if (r.status != TestClient::Status::kPacket) {
      return ::testing::AssertionFailure() << c.nick << ": " << status_name(r.status);
    }
    c.received.push_back(r.packet);
    if (done(r.packet)) {
      return ::testing::AssertionSuccess();
    }
  }
}

TEST_P(MixedRooms, SixtyClientsInFourRoomsEachSeeExactlyTheirRoom) {
  ASSERT_NO_FATAL_FAILURE(start_with(config({"--max-per-address=0"})));
  std::vector<Client> clients(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients[i].nick = "c" + std::to_string(i);
    clients[i].kind = static_cast<Kind>(i % 3);
    clients[i].room = "lobby";
  }
  auto members_of = [&](const std::string& room) {
    std::vector<Client*> out;
    for (auto& c : clients) {
      if (!c.gone && c.conn && c.room == room) {
        out.push_back(&c);
      }
    }
    return out;
  };

  // Phase 1: everyone joins the lobby, one after the other.
  for (auto& c : clients) {
    for (Client* m : members_of("lobby")) {
      m->expected.push_back(presence("join", c.nick, "lobby", *m));
    }
    std::string error;
    c.conn = c.kind == Kind::kLegacy ? join_as(port(), c.nick, error)
                                     : join_modern(port(), c.nick, caps_of(c.kind));
    ASSERT_TRUE(c.conn) << c.nick << " " << error;
  }

  // Phase 2: three of every four go to another room, one after the other; each
  // move is complete when the mover sees its own join there.
  for (int i = 0; i < kClients; ++i) {
    Client& c = clients[i];
    const std::string& target = kRooms[static_cast<std::size_t>((i / 3) % 4)];
    if (target == "lobby") {
      continue;
    }
    const std::string from = c.room;
    c.room = target;
    for (Client* m : members_of(from)) {
      m->expected.push_back(presence("leave", c.nick, from, *m));
    }
    for (Client* m : members_of(target)) {
      m->expected.push_back(presence("join", c.nick, target, *m));
    }
    ASSERT_TRUE(c.conn.send_packet(enter_json(target)));
    ASSERT_TRUE(read_until(
        c, [&](const Packet& p) { return p.type == "join" && p.get("nick") == c.nick; }));
  }

  // Phase 3: everyone chats at once.
  for (auto& c : clients) {
    for (int k = 0; k < kChatsEach; ++k) {
      ASSERT_TRUE(c.conn.send_chat(c.nick + "#" + std::to_string(k)));
    }
  }
  for (auto& c : clients) {
    SCOPED_TRACE(c.nick + " in " + c.room);
    const std::size_t chats_due = members_of(c.room).size() * kChatsEach;
    std::size_t chats = 0;
    std::size_t first_chat = c.received.size();
    // Everything up to the first chat belongs to phases 1 and 2.
    ASSERT_TRUE(read_until(c, [&](const Packet& p) {
      if (p.type == "chat" && chats++ == 0) {
        first_chat = c.received.size();  // the index after this packet
      }
      return chats == chats_due;
    }));
    std::vector<std::string> before;
    for (std::size_t j = 0; j + 1 < first_chat; ++j) {
      before.push_back(canonical(c.received[j]));
    }
    EXPECT_EQ(before, c.expected) << "joins and leaves seen by " << c.nick;
    // Per sender, in order, exactly the room's chats.
    std::map<std::string, std::vector<std::string>> by_sender;
    for (std::size_t j = first_chat - 1; j < c.received.size(); ++j) {
      const Packet& p = c.received[j];
      EXPECT_EQ(p.members.size(), 3u) << p.raw;
      ASSERT_EQ(p.type, "chat") << "a non-chat packet among the chats: " << p.raw;
      by_sender[p.get("nick")].push_back(p.get("message"));
    }
    std::map<std::string, std::vector<std::string>> want;
    for (Client* m : members_of(c.room)) {
      for (int k = 0; k < kChatsEach; ++k) {
        want[m->nick].push_back(m->nick + "#" + std::to_string(k));
      }
    }
    EXPECT_EQ(by_sender, want);
    c.received.clear();
  }

  // Phase 4: every fifth client disconnects; the rest of its room, and only that, hears it.
  std::map<std::string, std::multiset<std::string>> leaves_due;  // by remaining nick
  for (int i = 0; i < kClients; i += 5) {
    clients[i].gone = true;
  }
  for (auto& c : clients) {
    if (c.gone) {
      continue;
    }
    for (const auto& g : clients) {
      if (g.gone && g.room == c.room) {
        leaves_due[c.nick].insert(presence("leave", g.nick, g.room, c));
      }
    }
  }
  for (auto& c : clients) {
    if (c.gone) {
      c.conn.close();
    }
  }
  for (auto& c : clients) {
    if (c.gone || leaves_due[c.nick].empty()) {
      continue;
    }
    SCOPED_TRACE(c.nick);
    std::size_t count = 0;
    ASSERT_TRUE(read_until(c, [&](const Packet&) { return ++count == leaves_due[c.nick].size(); }));
    std::multiset<std::string> got;
    for (const auto& p : c.received) {
      got.insert(canonical(p));
    }
    EXPECT_EQ(got, leaves_due[c.nick]);
  }
  // Nothing else is pending anywhere: one marker per room, seen next by every member.
  for (const auto& room : kRooms) {
    auto members = members_of(room);
    ASSERT_FALSE(members.empty()) << room;
    std::vector<TestClient*> observers;
    for (std::size_t j = 1; j < members.size(); ++j) {
      observers.push_back(&members[j]->conn);
    }
    expect_nothing_pending(members[0]->conn, members[0]->nick, observers, "end of " + room);
  }
}

INSTANTIATE_TEST_SUITE_P(EventLoop, MixedRooms, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::ext
