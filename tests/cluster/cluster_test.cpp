// Several real chatd nodes on one real redis-server (issue 15, --engine redis):
// one test per semantic of the issue, plus hostile input published into Redis.
// Each test starts its own redis-server on a Unix socket in a temporary
// directory, without persistence, and its nodes on port 0.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/assertions.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

#if !defined(CHATD_PATH) || !defined(CHATCTL_PATH)
#error "CHATD_PATH and CHATCTL_PATH must name the binaries"
#endif

namespace chat::test {
namespace {

using namespace std::chrono_literals;

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// The next packet whose type is in `types` (others are skipped); nullopt if none in time.
std::optional<Packet> next_of(TestClient& c, const std::vector<std::string>& types,
                              std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto r = c.recv(std::chrono::milliseconds(ms_left(deadline)));
    if (r.status != TestClient::Status::kPacket) {
      return std::nullopt;
    }
    for (const auto& t : types) {
      if (r.packet.type == t) {
        return r.packet;
      }
    }
  }
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { start_redis(); }

  void TearDown() override {
    for (auto& [name, node] : nodes_) {
      if (node && !node->exited()) {
        const auto status = node->terminate();
        EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
            << name << ": " << (status ? ChatdProcess::describe_status(*status) : "no exit");
      }
    }
    if (HasFailure()) {
      for (auto& [name, node] : nodes_) {
        if (node) {
          std::cerr << "---- chatd " << name << " ----\n" << node->log();
        }
      }
    }
    nodes_.clear();
    stop_redis();
  }

  std::string socket_path() const { return dir_.file("redis.sock"); }

  void start_redis() {
    std::string error;
    redis_ = Subprocess::spawn({"redis-server", "--port", "0", "--unixsocket", socket_path(),
                                "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                                "--dir", dir_.path(), "--logfile", dir_.file("redis.log")},
                               error);
    ASSERT_NE(redis_, nullptr) << error;
    ASSERT_TRUE(wait_until([&] { return redis_cli({"PING"}).out == "PONG\n"; }, kPatience))
        << "redis-server did not answer PING: " << read_file(dir_.file("redis.log"));
  }

  void stop_redis() {
    if (redis_) {
      redis_->kill(SIGTERM);
      redis_->wait_exit();
      redis_.reset();
    }
  }

  RunResult redis_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"redis-cli", "-s", socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  }

  ChatdProcess& start_node(const std::string& name, std::vector<std::string> extra = {},
                           bool control_socket = false) {
    ChatdConfig config;
    config.binary = CHATD_PATH;
    config.disable_control_socket = !control_socket;
    config.args = {"--engine=redis", "--redis=unix:" + socket_path(), "--node-name=" + name,
                   "--presence-ttl=2", "--log-level=debug"};
    config.args.insert(config.args.end(), extra.begin(), extra.end());
    std::string error;
    auto node = ChatdProcess::start(config, error);
    EXPECT_NE(node, nullptr) << error;
    if (!node) {
      throw std::runtime_error("chatd " + name + " did not start: " + error);
    }
    auto& slot = nodes_[name];
    slot = std::move(node);
    return *slot;
  }

  ChatdProcess& node(const std::string& name) { return *nodes_.at(name); }

  // A Part-2 client with `caps`, joined: welcome, any history, then its own join.
  TestClient modern(std::uint16_t port, const std::string& nick,
                    const std::string& caps = R"("dm","emote","who","rooms","info")",
                    std::vector<Packet>* history = nullptr) {
    TestClient c = TestClient::connect(port);
    EXPECT_TRUE(c.send_packet(R"({"type":"hello","nick":)" + json_string(nick) + R"(,"caps":[)" +
                              caps + "]}"));
    auto welcome = c.recv_packet();
    EXPECT_TRUE(welcome && welcome->type == "welcome") << (welcome ? welcome->raw : "nothing");
    while (true) {
      auto p = c.recv_packet();
      if (!p) {
        ADD_FAILURE() << nick << ": no join after welcome";
        return c;
      }
      if (p->type == "join" && p->get("nick") == nick) {
        return c;
      }
      if (history != nullptr) {
        history->push_back(*p);
      }
    }
  }

  TestClient legacy(std::uint16_t port, const std::string& nick) {
    std::string error;
    TestClient c = join_as(port, nick, error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  // Sends `who` until the reply lists exactly `nicks` (presence travels asynchronously).
  bool who_becomes(TestClient& c, const std::string& nicks) {
    return wait_until(
        [&] {
          c.send_packet(R"({"type":"who"})");
          auto p = next_of(c, {"who"});
          return p && p->get("nicks") == nicks;
        },
        kPatience);
  }

  TempDir dir_;
  std::unique_ptr<Subprocess> redis_;
  std::map<std::string, std::unique_ptr<ChatdProcess>> nodes_;
};

TEST_F(ClusterTest, NickIsUniqueAcrossNodes) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = legacy(a.port(), "pat");
  for (const char* nick : {"pat", "PAT", "ｐａｔ"}) {
    SCOPED_TRACE(nick);
    TestClient again = TestClient::connect(b.port());
    ASSERT_TRUE(again.send_hello(nick));
    EXPECT_TRUE(error_then_close(again, "nick-taken"));
  }
  // Released on leave: the other node grants it once the release is through.
  pat.close();
  EXPECT_TRUE(wait_until(
      [&] {
        TestClient c = TestClient::connect(b.port());
        c.send_hello("pat");
        auto p = c.recv_packet();
        return p && p->type == "join";
      },
      kPatience));
}

TEST_F(ClusterTest, ChatEmoteJoinLeaveReachEveryNodeInOrderOnce) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  auto& c = start_node("c");
  TestClient sender = modern(a.port(), "sender");
  TestClient native = modern(b.port(), "native");
  TestClient old = legacy(c.port(), "old");
  TestClient local = modern(a.port(), "local");
  // Everyone's join has been seen everywhere before the lines start.
  for (TestClient* r : {&sender, &native}) {
    ASSERT_TRUE(who_becomes(*r, R"(["local","native","old","sender"])"));
  }
  auto last_join = [](TestClient& r, const std::string& nick) {
    while (auto p = next_of(r, {"join"}, 2s)) {
      if (p->get("nick") == nick) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(last_join(old, "local"));

  constexpr int kLines = 100;  // within the flood burst
  for (int i = 0; i < kLines; ++i) {
    ASSERT_TRUE(sender.send_chat("line " + std::to_string(i)));
  }
  ASSERT_TRUE(sender.send_packet(R"({"type":"emote","message":"waves"})"));
  for (TestClient* r : {&native, &old, &local}) {
    for (int i = 0; i < kLines; ++i) {
      auto p = next_of(*r, {"chat"});
      ASSERT_TRUE(p) << "line " << i << " missing";
      ASSERT_EQ(p->get("nick"), "sender");
      ASSERT_EQ(p->get("message"), "line " + std::to_string(i));
    }
  }
  EXPECT_TRUE(next_is(native, "emote", {{"nick", "sender"}, {"message", "waves"}}));
  EXPECT_TRUE(next_is(local, "emote", {{"nick", "sender"}, {"message", "waves"}}));
  EXPECT_TRUE(next_is(old, "chat", {{"nick", "*"}, {"message", "sender waves"}}));
  auto own = next_of(sender, {"emote"});  // after its own 100 lines
  ASSERT_TRUE(own);

  // A join and a leave on one node reach the others (with the room for the
  // rooms cap, without it for Part 1).
  TestClient late = legacy(b.port(), "late");
  auto joined = next_of(sender, {"join"});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->raw, R"({"type":"join","nick":"late","room":"lobby"})");
  joined = next_of(old, {"join"});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->raw, R"({"type":"join","nick":"late"})");
  late.close();
  auto left = next_of(sender, {"leave"});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->raw, R"({"type":"leave","nick":"late","room":"lobby"})");
  left = next_of(old, {"leave"});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->raw, R"({"type":"leave","nick":"late"})");
  // Nothing twice: after a marker, nothing else is queued.
  ASSERT_TRUE(native.send_chat("marker"));
  for (TestClient* r : {&sender, &old}) {
    auto marker = next_of(*r, {"chat"});
    ASSERT_TRUE(marker);
    EXPECT_EQ(marker->get("message"), "marker");
    EXPECT_EQ(r->recv(300ms).status, TestClient::Status::kTimeout);
  }
}

TEST_F(ClusterTest, DmReachesTheNickOnAnyNode) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = modern(a.port(), "pat");
  TestClient chris = modern(b.port(), "chris");
  TestClient old = legacy(b.port(), "old");
  ASSERT_TRUE(pat.send_packet(R"({"type":"dm","to":"Chris","message":"psst"})"));
  auto echo = next_of(pat, {"dm"});
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->get("to"), "Chris");
  EXPECT_EQ(echo->get("message"), "psst");
  auto got = next_of(chris, {"dm"});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->get("from"), "pat");
  EXPECT_EQ(got->get("message"), "psst");
  // The Part-1 reader gets the fallback.
  ASSERT_TRUE(pat.send_packet(R"({"type":"dm","to":"old","message":"hi old"})"));
  EXPECT_TRUE(next_is(old, "chat", {{"nick", "pat -> old"}, {"message", "hi old"}}));
  // Nobody holds it anywhere.
  ASSERT_TRUE(pat.send_packet(R"({"type":"dm","to":"nobody","message":"?"})"));
  auto err = next_of(pat, {"error"});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->get("code"), "no-such-nick");
}

TEST_F(ClusterTest, WhoAndRoomsAreClusterWide) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = modern(a.port(), "pat");
  TestClient chris = modern(b.port(), "chris");
  EXPECT_TRUE(who_becomes(pat, R"(["chris","pat"])"));
  EXPECT_TRUE(who_becomes(chris, R"(["chris","pat"])"));
  ASSERT_TRUE(chris.send_packet(R"({"type":"enter","room":"games"})"));
  EXPECT_TRUE(wait_until(
      [&] {
        pat.send_packet(R"({"type":"rooms"})");
        auto p = next_of(pat, {"rooms"});
        return p && p->get("rooms") == R"([{"name":"games","users":1},{"name":"lobby","users":1}])";
      },
      kPatience));
  EXPECT_TRUE(who_becomes(pat, R"(["pat"])"));
}

TEST_F(ClusterTest, HistoryReplaysOnAnotherNodeAndAfterRestartingEveryNode) {
  start_node("a");
  start_node("b");
  {
    TestClient pat = modern(node("a").port(), "pat");
    // Lines reach other nodes' mirrors with their delivery: a watcher on b
    // that has seen the last line means b's mirror holds all three.
    TestClient watcher = legacy(node("b").port(), "watcher");
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pat.send_chat("said " + std::to_string(i)));
    }
    for (int i = 0; i < 3; ++i) {
      auto line = next_of(watcher, {"chat"});
      ASSERT_TRUE(line);
      ASSERT_EQ(line->get("message"), "said " + std::to_string(i));
    }
    std::vector<Packet> history;
    TestClient late = modern(node("b").port(), "late", R"("history")", &history);
    ASSERT_EQ(history.size(), 3U);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(history[i].get("message"), "said " + std::to_string(i));
      EXPECT_EQ(history[i].get("history"), "true");
    }
  }
  for (auto& [name, n] : nodes_) {
    const auto status = n->terminate();
    ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  }
  nodes_.clear();
  start_node("c");
  std::vector<Packet> history;
  TestClient again = modern(node("c").port(), "again", R"("history")", &history);
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(history[2].get("message"), "said 2");
}

TEST_F(ClusterTest, KilledNodeLeavesAreAnnouncedAndNicksFreedWithinTheTtl) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = modern(a.port(), "pat");
  TestClient doomed = modern(b.port(), "doomed");
  EXPECT_TRUE(who_becomes(pat, R"(["doomed","pat"])"));
  const auto killed = Clock::now();
  ASSERT_TRUE(b.signal(SIGKILL));
  ASSERT_TRUE(b.wait_exit());
  auto leave = next_of(pat, {"leave"}, 8s);
  ASSERT_TRUE(leave);
  EXPECT_EQ(leave->get("nick"), "doomed");
  // The TTL is 2 s; the check runs every third of it.
  EXPECT_LT(Clock::now() - killed, 4s);
  TestClient reborn = legacy(a.port(), "doomed");
  EXPECT_TRUE(who_becomes(pat, R"(["doomed","pat"])"));
}

TEST_F(ClusterTest, RedisGoneClientsKeepTalkingLocallyThenReconnect) {
  auto& a = start_node("a", {"--control-socket=@DIR@/ctl"}, true);
  auto chatctl_status = [&] {
    return run_process({CHATCTL_PATH, "-s", a.dir() + "/ctl", "status"}).out;
  };
  EXPECT_NE(chatctl_status().find("cluster:      ok (node a)"), std::string::npos)
      << chatctl_status();
  auto& b = start_node("b");
  TestClient pat = modern(a.port(), "pat");
  TestClient leslie = legacy(a.port(), "leslie");
  TestClient chris = modern(b.port(), "chris");

  stop_redis();
  auto down = next_of(pat, {"info"});
  ASSERT_TRUE(down);
  EXPECT_NE(down->get("message").find("unreachable"), std::string::npos);
  auto down_legacy = next_of(leslie, {"chat"});
  ASSERT_TRUE(down_legacy);
  EXPECT_EQ(down_legacy->get("nick"), "***");
  EXPECT_TRUE(wait_until(
      [&] {
        for (const auto& n : a.notifications()) {
          if (n.find("degraded") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      kPatience));
  EXPECT_NE(chatctl_status().find("cluster:      degraded (node a)"), std::string::npos)
      << chatctl_status();
  // Local clients keep talking.
  ASSERT_TRUE(pat.send_chat("still here"));
  EXPECT_TRUE(next_is(leslie, "chat", {{"nick", "pat"}, {"message", "still here"}}));
  EXPECT_TRUE(next_is(pat, "chat", {{"nick", "pat"}, {"message", "still here"}}));
  // New hellos are refused with a clear code.
  TestClient newcomer = TestClient::connect(a.port());
  ASSERT_TRUE(newcomer.send_hello("newcomer"));
  EXPECT_TRUE(error_then_close(newcomer, "cluster-unavailable"));

  start_redis();
  auto up = next_of(pat, {"info"}, 15s);
  ASSERT_TRUE(up);
  EXPECT_NE(up->get("message").find("reachable again"), std::string::npos);
  // Exactly one notice each way: nothing else queued for pat.
  EXPECT_EQ(pat.recv(300ms).status, TestClient::Status::kTimeout);
  ASSERT_TRUE(next_of(chris, {"info"}, 15s));  // b's down notice
  auto chris_up = next_of(chris, {"info"}, 15s);
  ASSERT_TRUE(chris_up);
  EXPECT_NE(chris_up->get("message").find("reachable again"), std::string::npos);
  // Presence re-asserted: the cluster is whole again.
  EXPECT_TRUE(who_becomes(chris, R"(["chris","leslie","pat"])"));
  ASSERT_TRUE(chris.send_chat("back"));
  EXPECT_TRUE(next_is(pat, "chat", {{"nick", "chris"}, {"message", "back"}}));
  TestClient newcomer2 = legacy(a.port(), "newcomer");
  EXPECT_NE(chatctl_status().find("cluster:      ok (node a)"), std::string::npos)
      << chatctl_status();
  TestClient dup = TestClient::connect(b.port());
  ASSERT_TRUE(dup.send_hello("pat"));
  EXPECT_TRUE(error_then_close(dup, "nick-taken"));
}

TEST_F(ClusterTest, ANickTakenElsewhereWhileCutOffStaysWithRedissHolder) {
  auto& a = start_node("a");
  start_node("b");
  TestClient pat = modern(a.port(), "pat");
  // While a is cut off, b's side of Redis gives pat to b (as a b user would).
  ASSERT_EQ(redis_cli({"SET", "chatd:nick:pat", "b"}).exit_code, 0);
  const auto clients = redis_cli({"CLIENT", "LIST"}).out;
  std::size_t killed = 0;
  for (std::size_t at = clients.find("id="); at != std::string::npos;
       at = clients.find("\nid=", at + 1)) {
    const std::size_t start = clients[at] == '\n' ? at + 4 : at + 3;
    const std::string id = clients.substr(start, clients.find(' ', start) - start);
    const std::size_t eol = clients.find('\n', start);
    if (clients.substr(start, eol - start).find("name=chatd-a-") != std::string::npos) {
      killed += redis_cli({"CLIENT", "KILL", "ID", id}).out == "1\n" ? 1 : 0;
    }
  }
  ASSERT_GE(killed, 1U) << clients;  // a drops its other connection itself
  // a notices, reconnects, re-asserts pat, finds it held by the live node b:
  // Redis's holder keeps it and the local user goes with nick-taken.
  std::optional<Packet> err;
  while (auto p = next_of(pat, {"error", "info"})) {
    if (p->type == "error") {
      err = p;
      break;
    }
  }
  ASSERT_TRUE(err);
  EXPECT_EQ(err->get("code"), "nick-taken");
  EXPECT_NE(a.log().find("event=nick-conflict"), std::string::npos);
}

TEST_F(ClusterTest, ARedisThatStopsAnsweringIsUnreachableToo) {
  auto& a = start_node("a");
  TestClient pat = modern(a.port(), "pat");
  TestClient leslie = modern(a.port(), "leslie");
  ASSERT_TRUE(redis_->pid() > 0 && ::kill(redis_->pid(), SIGSTOP) == 0);
  auto down = next_of(pat, {"info"});
  ::kill(redis_->pid(), SIGCONT);
  ASSERT_TRUE(down);
  EXPECT_NE(down->get("message").find("unreachable"), std::string::npos);
  auto up = next_of(pat, {"info"}, 15s);
  ASSERT_TRUE(up);
  EXPECT_NE(up->get("message").find("reachable again"), std::string::npos);
  ASSERT_TRUE(pat.send_chat("and on"));
  auto line = next_of(leslie, {"chat"});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->get("message"), "and on");
}

TEST_F(ClusterTest, PartOneClientsWorkOnAnyNode) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient one = legacy(a.port(), "one");
  TestClient two = legacy(b.port(), "two");
  EXPECT_TRUE(next_is(one, "join", {{"nick", "two"}}));
  ASSERT_TRUE(one.send_chat("hello two"));
  // two may first see one's join (published by a just before two's hello, and
  // delivered by b just after it): one's join, at most, and no room in it.
  auto first = two.recv_packet();
  ASSERT_TRUE(first);
  if (first->type == "join") {
    EXPECT_EQ(first->raw, R"({"type":"join","nick":"one"})");
    first = two.recv_packet();
    ASSERT_TRUE(first);
  }
  EXPECT_EQ(first->raw, R"({"type":"chat","nick":"one","message":"hello two"})");
  ASSERT_TRUE(two.send_chat("hello one"));
  EXPECT_TRUE(next_is(one, "chat", {{"nick", "one"}, {"message", "hello two"}}));
  EXPECT_TRUE(next_is(one, "chat", {{"nick", "two"}, {"message", "hello one"}}));
  // No member a Part-1 client does not know: the join had no room.
  TestClient three = legacy(b.port(), "three");
  auto p = next_of(one, {"join"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->raw, R"({"type":"join","nick":"three"})");
  // A node that stops cleanly says goodbye for its users at once (not after the TTL).
  const auto status = b.terminate();
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  for (const char* nick : {"two", "three"}) {
    auto left = next_of(one, {"leave"}, 1500ms);
    ASSERT_TRUE(left) << "no leave for " << nick << " before the TTL";
  }
}

TEST_F(ClusterTest, HostileEnvelopesNeitherCrashNorWedgeANode) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = legacy(a.port(), "pat");
  TestClient chris = legacy(b.port(), "chris");
  const std::string big(120000, 'x');  // under the kernel's limit for one argument
  const std::vector<std::string> garbage = {
      "",
      "garbage",
      "2:c1,",
      "9999999999:c1,",
      "2:c1,1:x,2:ev,5:lobby,0:,1:0,0:,0:,0:,",           // empty frame
      "2:c1,1:x,2:ev,5:lobby,0:,3:999,0:,5:{\"a\"},0:,",  // bad cap
      "2:c1,1:x,2:ev,3:a b,0:,1:0,0:,5:{\"a\"},0:,",      // bad room
      "2:c1,1:x,4:join,5:lobby,3:a b,1:0,0:,0:,0:,",      // bad nick
      "2:c1,1:x,2:ev,5:lobby,0:,1:0,2:zz,5:{\"a\"},0:,",  // bad ts
      "2:c1,1:x,5:weird,5:lobby,0:,1:0,0:,0:,0:,",        // unknown kind
      "2:c1,1:x,2:ev,5:lobby,0:,1:0,0:," + std::to_string(big.size()) + ":" + big + ",0:,",
      big,
  };
  for (const auto& g : garbage) {
    const auto r = redis_cli({"PUBLISH", "chatd:events", g});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    redis_cli({"PUBLISH", "chatd:dm:a", g});
  }
  // Wrong types where the engine reads.
  redis_cli({"SADD", "chatd:nodes", "evil"});
  redis_cli({"SET", "chatd:node:evil", "1"});
  redis_cli({"SET", "chatd:members:evil", "not a hash"});
  redis_cli({"SADD", "chatd:history-rooms", "lobby"});
  redis_cli({"RPUSH", "chatd:history:lobby", "not an envelope"});
  // A bystander keeps chatting across nodes.
  ASSERT_TRUE(pat.send_chat("still fine"));
  EXPECT_TRUE(next_is(chris, "chat", {{"nick", "pat"}, {"message", "still fine"}}));
  // A node started into that state still starts and serves.
  auto& c = start_node("c");
  TestClient late = modern(c.port(), "late", R"("history","who")");
  ASSERT_TRUE(chris.send_chat("hi late"));
  EXPECT_TRUE(next_of(late, {"chat"}));
  EXPECT_FALSE(a.exited());
  EXPECT_FALSE(b.exited());
}

TEST_F(ClusterTest, ChatctlSeesKicksAndSpeaksAcrossNodes) {
  auto& a = start_node("a", {"--control-socket=@DIR@/ctl"}, true);
  auto& b = start_node("b");
  auto chatctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{CHATCTL_PATH, "-s", a.dir() + "/ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
  };
  TestClient pat = modern(a.port(), "pat");
  TestClient chris = modern(b.port(), "chris");
  TestClient old = legacy(b.port(), "old");
  ASSERT_TRUE(who_becomes(pat, R"(["chris","old","pat"])"));

  const auto who = chatctl({"who"});
  EXPECT_EQ(who.exit_code, 0) << who.describe();
  EXPECT_NE(who.out.find("NODE"), std::string::npos) << who.out;
  const auto json = chatctl({"--json", "who"});
  EXPECT_NE(json.out.find(R"("nick":"chris")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("node":"b")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("node":"a")"), std::string::npos) << json.out;
  const auto status = chatctl({"status"});
  EXPECT_NE(status.out.find("other nodes:  b (2 users)"), std::string::npos) << status.out;

  const auto say = chatctl({"say", "maintenance at noon"});
  EXPECT_EQ(say.exit_code, 0) << say.describe();
  auto info = next_of(chris, {"info"});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->get("message"), "maintenance at noon");
  auto fallback = next_of(old, {"chat"});
  ASSERT_TRUE(fallback);
  EXPECT_EQ(fallback->raw, R"({"type":"chat","nick":"***","message":"maintenance at noon"})");
  EXPECT_TRUE(next_of(pat, {"info"}));

  const auto kick = chatctl({"kick", "Chris", "bye"});
  EXPECT_EQ(kick.exit_code, 0) << kick.describe();
  auto err = next_of(chris, {"error"});
  ASSERT_TRUE(err);
  EXPECT_EQ(err->get("code"), "kicked");
  auto left = next_of(pat, {"leave"});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->get("nick"), "chris");
  const auto nobody = chatctl({"kick", "nobody"});
  EXPECT_NE(nobody.exit_code, 0);
}

TEST(ClusterOptions, RedisEngineNeedsAnAddressAndAReadablePasswordFile) {
  TempDir dir;
  const std::string state = "--state-directory=" + dir.path();
  auto r = run_process({CHATD_PATH, "--engine=redis", state, "--control-socket=", "4000"});
  EXPECT_EQ(r.exit_code, 64) << r.describe() << r.output();
  EXPECT_NE(r.err.find("--redis"), std::string::npos) << r.err;
  const std::string missing = dir.file("no-such-password");
  r = run_process({CHATD_PATH, "--engine=redis", "--redis=unix:" + dir.file("r.sock"),
                   "--redis-password-file=" + missing, "--log-target=stderr", state,
                   "--control-socket=", "4000"});
  EXPECT_EQ(r.exit_code, 78) << r.describe() << r.output();
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  r = run_process({CHATD_PATH, "--engine=redis", "--redis=nowhere", state, "4000"});
  EXPECT_EQ(r.exit_code, 64) << r.describe() << r.output();
}

}  // namespace
}  // namespace chat::test
