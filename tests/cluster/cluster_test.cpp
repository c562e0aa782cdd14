// Several real chatd nodes on one real redis-server (issue 15, --engine redis):
// one test per semantic of the issue, plus hostile input published into Redis.
// Each test starts its own redis-server on a Unix socket in a temporary
// directory, without persistence, and its nodes on port 0.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <deque>
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
                   "--log-level=debug"};
    if (std::none_of(extra.begin(), extra.end(),
                     [](const std::string& a) { return a.rfind("--presence-ttl", 0) == 0; })) {
      config.args.emplace_back("--presence-ttl=2");
    }
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

  // Sends `who` until the reply lists exactly `nicks` (presence travels
  // asynchronously); `last`, if given, gets the last reply's list.
  bool who_becomes(TestClient& c, const std::string& nicks,
                   std::chrono::milliseconds timeout = kPatience, std::string* last = nullptr) {
    return wait_until(
        [&] {
          c.send_packet(R"({"type":"who"})");
          auto p = next_of(c, {"who"});
          const std::string got = p ? p->get("nicks") : "";
          if (last != nullptr) {
            *last = got;
          }
          return got == nicks;
        },
        timeout);
  }

  // `who`'s `nicks` for these nicks: sorted, as a JSON array.
  static std::string nick_list(std::vector<std::string> nicks) {
    std::sort(nicks.begin(), nicks.end());
    std::string out = "[";
    for (const auto& n : nicks) {
      out += (out.size() > 1 ? "," : "") + json_string(n);
    }
    return out + "]";
  }

  // Cuts node `name` off Redis (CLIENT KILL of its named connections); how many.
  std::size_t kill_connections(const std::string& name) {
    const auto clients = redis_cli({"CLIENT", "LIST"}).out;
    std::size_t killed = 0;
    for (std::size_t at = clients.find("id="); at != std::string::npos;
         at = clients.find("\nid=", at + 1)) {
      const std::size_t start = clients[at] == '\n' ? at + 4 : at + 3;
      const std::string id = clients.substr(start, clients.find(' ', start) - start);
      const std::size_t eol = clients.find('\n', start);
      if (clients.substr(start, eol - start).find("name=chatd-" + name + "-") !=
          std::string::npos) {
        killed += redis_cli({"CLIENT", "KILL", "ID", id}).out == "1\n" ? 1 : 0;
      }
    }
    return killed;
  }

  // `calls=` of `command` in INFO commandstats (0 if it never ran since the reset).
  long command_calls(const std::string& command) {
    const auto info = redis_cli({"INFO", "commandstats"}).out;
    const std::string tag = "cmdstat_" + command + ":calls=";
    const auto at = info.find(tag);
    return at == std::string::npos ? 0 : std::stol(info.substr(at + tag.size()));
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
  ASSERT_GE(kill_connections("a"), 1U);  // a drops its other connection itself
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
      "2:b1,",           // an empty batch
      "2:b1,garbage",    // a batch cut short
      "2:b1,5:2:b1,,",   // a batch in a batch
      "2:b1,999:2:c1,",  // an envelope longer than the batch
      "2:b1,9:2:c1,1:x,,41:2:c1,1:x,5:weird,5:lobby,0:,1:0,0:,0:,0:,,",  // bad, then unknown kind
      // Frames no client must get: not a server packet, not a room event, a say
      // and a kick reason the control socket would refuse.
      "2:c2,1:x,2:ev,5:lobby,0:,1:0,0:,8:not json,0:,0:,0:,",
      "2:c2,1:x,2:ev,5:lobby,0:,1:0,0:,29:{\"type\":\"welcome\",\"nick\":\"x\"},0:,0:,0:,",
      "2:c2,1:x,3:say,0:,0:,1:0,0:,3:a\x01"
      "b,0:,0:,0:,",
      "2:c2,1:x,4:kick,0:,5:chris,1:0,0:,3:a\x01"
      "b,0:,0:,0:,",
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
  redis_cli({"SADD", "chatd:history-rooms", "lobby"});  // the first slice's index
  redis_cli({"ZADD", "chatd:history-index", "99999999999999", "lobby"});
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

TEST_F(ClusterTest, ALeaveCausedByEnterCarriesToOnEveryNodeForTheMovesCap) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient mover = modern(a.port(), "mover");
  TestClient here = modern(a.port(), "here", R"("rooms","moves")");
  TestClient there = modern(b.port(), "there", R"("rooms","moves")");
  TestClient rooms_only = modern(b.port(), "roomsonly", R"("rooms","who")");
  TestClient old = legacy(b.port(), "old");
  ASSERT_TRUE(who_becomes(rooms_only, R"(["here","mover","old","roomsonly","there"])"));
  ASSERT_TRUE(mover.send_packet(R"({"type":"enter","room":"games"})"));
  auto local = next_of(here, {"leave"});
  ASSERT_TRUE(local);
  EXPECT_EQ(local->raw, R"({"type":"leave","nick":"mover","room":"lobby","to":"games"})");
  // The same frame on the other node for the same caps; without the cap, what
  // a single node sends.
  auto remote = next_of(there, {"leave"});
  ASSERT_TRUE(remote);
  EXPECT_EQ(remote->raw, local->raw);
  auto plain = next_of(rooms_only, {"leave"});
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->raw, R"({"type":"leave","nick":"mover","room":"lobby"})");
  auto part_one = next_of(old, {"leave"});
  ASSERT_TRUE(part_one);
  EXPECT_EQ(part_one->raw, R"({"type":"leave","nick":"mover"})");
  // A disconnect never carries `to`, on any node.
  mover.close();
  TestClient leaver = modern(a.port(), "leaver");
  ASSERT_TRUE(next_of(there, {"join"}));
  leaver.close();
  auto gone = next_of(there, {"leave"});
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->raw, R"({"type":"leave","nick":"leaver","room":"lobby"})");
}

// Joins node b with the history cap: the replayed lines' messages, or nullopt
// if b refused the hello (not back in the cluster yet).
std::optional<std::vector<std::string>> replay_on(std::uint16_t port, const std::string& nick) {
  TestClient c = TestClient::connect(port);
  if (!c.send_packet(R"({"type":"hello","nick":)" + json_string(nick) +
                     R"(,"caps":["history"]})")) {
    return std::nullopt;
  }
  auto welcome = c.recv_packet();
  if (!welcome || welcome->type != "welcome") {
    return std::nullopt;
  }
  std::vector<std::string> lines;
  while (auto p = c.recv_packet()) {
    if (p->type == "join" && p->get("nick") == nick) {
      return lines;
    }
    if (p->type == "chat") {
      lines.push_back(p->get("message"));
    }
  }
  return std::nullopt;
}

TEST_F(ClusterTest, AReconnectReloadsHistoryExactlyOnceInOrderWhileAnotherNodeChats) {
  // Other rooms' history makes the reload's reply a few MB, read over many
  // wake-ups, so lines keep arriving on the subscription while it loads.
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string native =
      R"({"type":"chat","nick":"filler","message":")" + std::string(1500, 'f') + R"("})";
  const auto filled = redis_cli({"EVAL", R"(
for r = 1, 12 do
  local room = 'filler' .. r
  local env = '2:c1,1:x,2:ev,' .. #room .. ':' .. room .. ',0:,1:0,' .. #ARGV[1] .. ':' ..
      ARGV[1] .. ',' .. #ARGV[2] .. ':' .. ARGV[2] .. ',0:,'
  for i = 1, 200 do redis.call('RPUSH', 'chatd:history:' .. room, env) end
  redis.call('ZADD', 'chatd:history-index', ARGV[1], room)
end
return 1)",
                                 "0", std::to_string(now), native});
  ASSERT_EQ(filled.out, "1\n") << filled.describe();
  const std::vector<std::string> args{"--history=5000", "--history-bytes=1M", "--flood-rate=0"};
  auto& a = start_node("a", args);
  auto& b = start_node("b", args);
  TestClient sender = legacy(a.port(), "sender");
  std::vector<std::string> said;
  std::size_t cuts = 0;
  // b is cut off, reconnects (after 100 ms or more: the backoff doubles) and
  // reloads, while a's lines flow. Each cut waits for b to be back (an ASan run
  // took 1.7 s to reconnect and reload), so every round cuts it.
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(wait_until([&] { return kill_connections("b") > 0; }, 20s))
        << "round " << round << ": b did not reconnect";
    ++cuts;
    const auto until = Clock::now() + 250ms;
    while (Clock::now() < until) {
      said.push_back("line " + std::to_string(said.size()));
      ASSERT_TRUE(sender.send_chat(said.back()));
      std::this_thread::sleep_for(200us);
    }
  }
  said.push_back("end");
  ASSERT_TRUE(sender.send_chat("end"));
  EXPECT_EQ(cuts, 4U);
  // Once b is back and has the last line, a newcomer there gets every line
  // once, in order.
  std::optional<std::vector<std::string>> replay;
  int attempt = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        replay = replay_on(b.port(), "late" + std::to_string(attempt++));
        return replay && !replay->empty() && replay->back() == "end";
      },
      10s))
      << said.size() << " said; "
      << (replay ? std::to_string(replay->size()) +
                       " replayed, the last: " + (replay->empty() ? "none" : replay->back())
                 : "no replay");
  std::map<std::string, int> seen;
  for (const auto& line : *replay) {
    ++seen[line];
  }
  std::size_t missing = 0;
  std::size_t doubled = 0;
  for (const auto& line : said) {
    missing += seen[line] == 0 ? 1 : 0;
    doubled += seen[line] > 1 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0U) << "of " << said.size();
  EXPECT_EQ(doubled, 0U) << "of " << said.size();
  EXPECT_TRUE(*replay == said) << "not in order";
}

TEST_F(ClusterTest, ABurstOfLinesIsOneScriptCallAndOnePublishInOrder) {
  // Heartbeats run scripts too (every TTL/3): with the tests' 2 s TTL one could
  // fall between RESETSTAT and the count, as it did in an ASan run.
  auto& a = start_node("a", {"--presence-ttl=600"});
  auto& b = start_node("b", {"--presence-ttl=600"});
  TestClient pat = legacy(a.port(), "pat");
  TestClient chris = legacy(b.port(), "chris");
  TestClient lee = legacy(a.port(), "lee");
  ASSERT_TRUE(next_of(pat, {"join"}));    // chris's join: b is up and heard
  ASSERT_TRUE(next_of(chris, {"join"}));  // lee's
  ASSERT_EQ(redis_cli({"CONFIG", "RESETSTAT"}).out, "OK\n");
  // 40 lines in one write: chatd reads them in one loop iteration.
  std::string burst;
  for (int i = 0; i < 40; ++i) {
    burst += frame(chat_json("burst " + std::to_string(i)));
  }
  ASSERT_TRUE(pat.send_raw(burst));
  for (TestClient* reader : {&chris, &lee}) {
    for (int i = 0; i < 40; ++i) {
      auto line = next_of(*reader, {"chat"});
      ASSERT_TRUE(line);
      ASSERT_EQ(line->get("message"), "burst " + std::to_string(i));
    }
  }
  EXPECT_EQ(command_calls("eval"), 1);  // the batch script goes by its text (order)
  EXPECT_EQ(command_calls("publish"), 1);
  // Each line is history on its own, numbered, in order; the list keeps the last 20
  // (--history's default).
  auto room = redis_cli({"ZRANGE", "chatd:history-index", "0", "-1"}).out;  // lobby's key
  ASSERT_FALSE(room.empty());
  room.pop_back();
  const auto history = redis_cli({"LRANGE", "chatd:history:" + room, "0", "-1"}).out;
  EXPECT_EQ(redis_cli({"LLEN", "chatd:history:" + room}).out, "20\n");
  std::size_t at = 0;
  for (int i = 20; i < 40; ++i) {
    const auto next = history.find("burst " + std::to_string(i) + "\"", at);
    ASSERT_NE(next, std::string::npos) << "line " << i << " missing or out of order: " << history;
    at = next;
  }
  EXPECT_EQ(b.log().find("event=redis-bad-input"), std::string::npos) << b.log();
}

TEST_F(ClusterTest, AScriptFlushKeepsEachSendersOrderAndTheScriptsComeBack) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient pat = modern(a.port(), "pat", R"("rooms")");
  TestClient chris = modern(b.port(), "chris", R"("rooms")");
  ASSERT_TRUE(next_of(pat, {"join"}));  // chris's join: b is up and heard
  // Redis forgets its scripts while the nodes stay connected (SCRIPT FLUSH; a
  // restart drops the connections, and a reconnect loads every script first).
  // A line and then a move, written at once: the line's batch goes first, the
  // move's leave and join right behind it; chris must see them in that order.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(redis_cli({"SCRIPT", "FLUSH"}).out, "OK\n");
    const std::string room = "elsewhere" + std::to_string(i);
    ASSERT_TRUE(pat.send_raw(frame(chat_json("before " + std::to_string(i))) +
                             frame(R"({"type":"enter","room":")" + room + R"("})")));
    auto first = next_of(chris, {"chat", "leave"});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->raw,
              R"({"type":"chat","nick":"pat","message":"before )" + std::to_string(i) + R"("})");
    auto second = next_of(chris, {"chat", "leave"});
    ASSERT_TRUE(second);
    EXPECT_EQ(second->type, "leave") << second->raw;
    ASSERT_TRUE(pat.send_packet(R"({"type":"enter","room":"lobby"})"));
    auto back = next_of(chris, {"join"});
    ASSERT_TRUE(back);
    EXPECT_EQ(back->get("nick"), "pat");
  }
  // Scripts whose calls need no place in that order (a nick's claim) are run by
  // SHA1; refused with NOSCRIPT, they go once more with their text.
  ASSERT_EQ(redis_cli({"SCRIPT", "FLUSH"}).out, "OK\n");
  TestClient lee = legacy(a.port(), "lee");
  auto joined = next_of(chris, {"join"});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->get("nick"), "lee");
  EXPECT_NE(a.log().find("event=redis-noscript"), std::string::npos) << a.log();
  const auto history = redis_cli({"LRANGE", "chatd:history:lobby", "-1", "-1"}).out;
  EXPECT_NE(history.find("before 2"), std::string::npos) << history;
  EXPECT_EQ(a.log().find("event=redis-error"), std::string::npos) << a.log();
}

TEST_F(ClusterTest, HistoryListsExpireAndTheRoomIndexIsPruned) {
  auto& a = start_node("a");
  TestClient pat = modern(a.port(), "pat");
  ASSERT_TRUE(pat.send_packet(R"({"type":"enter","room":"games"})"));
  ASSERT_TRUE(pat.send_chat("one"));
  ASSERT_TRUE(next_of(pat, {"chat"}));
  // The index names the room by its key (the folded name).
  std::string room;
  ASSERT_TRUE(wait_until(
      [&] {
        room = redis_cli({"ZRANGE", "chatd:history-index", "0", "-1"}).out;
        return !room.empty() && room != "\n";
      },
      kPatience));
  room.pop_back();
  const std::string list = "chatd:history:" + room;
  EXPECT_EQ(redis_cli({"LLEN", list}).out, "1\n");
  // Each list lives for a week after its last line.
  const long ttl = std::stol(redis_cli({"PTTL", list}).out);
  EXPECT_GT(ttl, 7 * 24 * 3600 * 1000L - 60000);
  EXPECT_LE(ttl, 7 * 24 * 3600 * 1000L);
  // A room whose last line is older than that leaves the index, and its list
  // goes with it, at the next line said anywhere.
  const auto old = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch() - 8 * 24h)
                       .count();
  redis_cli({"ZADD", "chatd:history-index", std::to_string(old), "ghost"});
  redis_cli({"RPUSH", "chatd:history:ghost", "an old line"});
  ASSERT_TRUE(pat.send_chat("two"));
  ASSERT_TRUE(wait_until([&] { return redis_cli({"LLEN", list}).out == "2\n"; }, kPatience));
  EXPECT_EQ(redis_cli({"ZSCORE", "chatd:history-index", "ghost"}).out, "\n");
  EXPECT_EQ(redis_cli({"EXISTS", "chatd:history:ghost"}).out, "0\n");
  EXPECT_EQ(redis_cli({"ZRANGE", "chatd:history-index", "0", "-1"}).out, room + "\n");
}

TEST_F(ClusterTest, HistoryTtlSetsHowLongAListOutlivesItsLastLine) {
  auto& a = start_node("a", {"--history-ttl=3600"});
  TestClient pat = modern(a.port(), "pat");
  ASSERT_TRUE(pat.send_chat("one"));
  ASSERT_TRUE(next_of(pat, {"chat"}));
  const std::string list = "chatd:history:lobby";
  ASSERT_TRUE(wait_until([&] { return redis_cli({"LLEN", list}).out == "1\n"; }, kPatience));
  const long ttl = std::stol(redis_cli({"PTTL", list}).out);
  EXPECT_GT(ttl, 3600 * 1000L - 60000);
  EXPECT_LE(ttl, 3600 * 1000L);
  // Out of range: a usage error naming the option, before anything starts.
  const auto r = run_process({CHATD_PATH, "--engine=redis", "--redis=unix:" + socket_path(),
                              "--history-ttl=5", "--control-socket=", "4000"});
  EXPECT_EQ(r.exit_code, 64) << r.describe() << r.output();
  EXPECT_NE(r.err.find("--history-ttl"), std::string::npos) << r.err;
}

TEST_F(ClusterTest, AJoinReachesOtherNodesAsOnePublish) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient watcher = modern(b.port(), "watcher", R"("rooms","who")");
  ASSERT_EQ(redis_cli({"CONFIG", "RESETSTAT"}).out, "OK\n");
  TestClient pat = legacy(a.port(), "pat");
  auto joined = next_of(watcher, {"join"});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->raw, R"({"type":"join","nick":"pat","room":"lobby"})");
  EXPECT_TRUE(who_becomes(watcher, R"(["pat","watcher"])"));
  // The membership and the room's event travel together.
  EXPECT_EQ(command_calls("publish"), 1);
}

TEST_F(ClusterTest, ALeaveReachesOtherNodesAsOnePublish) {
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient watcher = modern(b.port(), "watcher", R"("rooms","who")");
  TestClient pat = legacy(a.port(), "pat");
  ASSERT_TRUE(next_of(watcher, {"join"}));
  ASSERT_TRUE(who_becomes(watcher, R"(["pat","watcher"])"));
  ASSERT_EQ(redis_cli({"CONFIG", "RESETSTAT"}).out, "OK\n");
  pat.close();
  auto left = next_of(watcher, {"leave"});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->raw, R"({"type":"leave","nick":"pat","room":"lobby"})");
  EXPECT_TRUE(who_becomes(watcher, R"(["watcher"])"));
  // The membership and the room's event travel together.
  EXPECT_EQ(command_calls("publish"), 1);
}

TEST_F(ClusterTest, AReconnectReloadsMembersExactlyWhileAnotherNodesUsersComeAndGo) {
  // A live node elsewhere with many users makes the members reply large (read
  // over many wake-ups), so joins and parts arrive while it loads.
  const auto filled = redis_cli({"EVAL", R"(
redis.call('SET', 'chatd:node:far', '1', 'PX', 60000)
redis.call('SADD', 'chatd:nodes', 'far')
for i = 1, 20000 do redis.call('HSET', 'chatd:members:far', 'user' .. i, 'elsewhere') end
return 1)",
                                 "0"});
  ASSERT_EQ(filled.out, "1\n") << filled.describe();
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient watcher = modern(b.port(), "watcher", R"("who")");
  std::deque<TestClient> present;
  std::vector<std::string> names;
  int n = 0;
  for (int round = 0; round < 4; ++round) {
    kill_connections("b");
    const auto until = Clock::now() + 250ms;
    while (Clock::now() < until) {
      std::string error;
      present.push_back(join_as(a.port(), "u" + std::to_string(n++), error));
      ASSERT_TRUE(present.back()) << error;
      if (present.size() > 3) {
        present.pop_front();
      }
    }
  }
  std::vector<std::string> expected{"watcher"};
  for (int i = n - static_cast<int>(present.size()); i < n; ++i) {
    expected.push_back("u" + std::to_string(i));
  }
  const std::string nicks = nick_list(expected);
  std::string last;
  EXPECT_TRUE(who_becomes(watcher, nicks, 5s, &last))
      << "who: " << last << " expected: " << nicks << " after " << n << " users";
  redis_cli({"DEL", "chatd:node:far"});
}

TEST_F(ClusterTest, AnotherNodesResetReloadsItsMembersExactlyWhileItsUsersComeAndGo) {
  // Node a's `reset` (it reconnected) makes b read a's member list again. That
  // list is made large here (read over many wake-ups), so a's joins and parts
  // cross the reply; resets are published for a (as its reconnect would) while
  // a's users come and go.
  auto& a = start_node("a");
  auto& b = start_node("b");
  TestClient watcher = modern(b.port(), "watcher", R"("who")");
  const auto filled = redis_cli({"EVAL", R"(
for i = 1, 20000 do redis.call('HSET', 'chatd:members:a', 'user' .. i, 'elsewhere') end
return 1)",
                                 "0"});
  ASSERT_EQ(filled.out, "1\n") << filled.describe();
  const std::string reset = "2:c2,1:a,5:reset,0:,0:,1:0,0:,0:,0:,0:,0:,";
  std::deque<TestClient> present;
  int n = 0;
  // Each round: a reset, three users replace the three before them at once
  // (their joins and parts cross the reply), and b must then show exactly them.
  for (int round = 0; round < 8; ++round) {
    ASSERT_EQ(redis_cli({"PUBLISH", "chatd:events", reset}).exit_code, 0);
    for (int i = 0; i < 3; ++i) {
      std::string error;
      present.push_back(join_as(a.port(), "u" + std::to_string(n++), error));
      ASSERT_TRUE(present.back()) << error;
      if (present.size() > 3) {
        present.pop_front();
      }
    }
    std::vector<std::string> expected{"watcher"};
    for (int i = n - 3; i < n; ++i) {
      expected.push_back("u" + std::to_string(i));
    }
    const std::string nicks = nick_list(expected);
    std::string last;
    ASSERT_TRUE(who_becomes(watcher, nicks, 3s, &last))
        << "round " << round << ": who " << last << ", expected " << nicks;
  }
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
