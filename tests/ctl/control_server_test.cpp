// ControlServer with a fake backend: commands, errors, limits, access, and the socket helper.
#include "daemon/control.hpp"
#include "tests/support/wire.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "test_util.hpp"

namespace chat::daemon {
namespace {

using chat::test::connect_unix;
using chat::test::PollLoop;
using chat::test::read_frame;
using chat::test::send_all;
using chat::test::TempDir;
using chat::test::wait_for_eof;

class FakeBackend : public ControlBackend {
 public:
  StatusInfo status() override {
    if (throw_on_status) {
      throw std::runtime_error("status exploded");
    }
    return StatusInfo{"9.9.9", 61, 2, 1, "select", 100, 10, 20, 300, 4000, 0,
                      0,       0,  0, 0, 0,        0,   0,  0,  0,   ""};
  }
  std::vector<UserInfo> who() override { return users; }
  bool kick(std::string_view nick, std::string_view reason) override {
    kicks.emplace_back(std::string(nick), std::string(reason));
    return nick == "pat";
  }
  std::optional<std::size_t> say(std::string_view message) override {
    said.emplace_back(message);
    return users.size();
  }

  bool throw_on_status = false;
  std::vector<UserInfo> users = {
      {"pat", "127.0.0.1:5000", "lobby", 1764118800, 1, 2, 30, 40, 0, false},
      {"chris", "[::1]:6000", "games", 1764118860, 3, 4, 50, 60, 7, true},
  };
  std::vector<std::pair<std::string, std::string>> kicks;
  std::vector<std::string> said;
};

rapidjson::Document parse(const std::optional<std::string>& payload) {
  rapidjson::Document doc;
  if (payload) {
    doc.Parse(payload->data(), payload->size());
  }
  return doc;
}

std::string member(const rapidjson::Document& doc, const char* key) {
  if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) {
    return "<missing>";
  }
  return doc[key].GetString();
}

// Runs every test on each event loop: the test's own poll() loop and, when
// chatd's library is built, its select() and epoll backends.
std::unique_ptr<EventLoop> make_loop(const std::string& name) {
#ifdef CHAT_HAVE_DAEMON_LOOP
  if (name == "select") {
    return EventLoop::create(EventLoop::Backend::kSelect);
  }
  if (name == "epoll") {
    return EventLoop::create(EventLoop::Backend::kEpoll);
  }
#endif
  (void)name;
  return std::make_unique<PollLoop>();
}

class ControlServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { start(std::nullopt); }

  void start(std::optional<gid_t> admin_group, std::optional<gid_t> read_group = std::nullopt) {
    server_.reset();
    socket_path_ = dir_.file("ctl");
    auto created = ControlServer::create_socket(socket_path_);
    ASSERT_TRUE(std::holds_alternative<UniqueFd>(created)) << std::get<std::string>(created);
    server_ = std::make_unique<ControlServer>(
        *loop_, backend_, std::move(std::get<UniqueFd>(created)), admin_group, read_group);
    server_->unlink_on_exit(socket_path_);
  }

  void pump() { loop_->run_once(std::chrono::milliseconds(5)); }

  // Sends `request` on a fresh or given connection and returns the reply.
  std::optional<std::string> ask(int fd, std::string_view request) {
    EXPECT_TRUE(send_all(fd, chat::test::frame_of(request)));
    return read_frame(fd, decoder_, [this] { pump(); });
  }

  UniqueFd connect() {
    UniqueFd fd = connect_unix(socket_path_);
    EXPECT_TRUE(fd) << socket_path_;
    return fd;
  }

  TempDir dir_;
  std::string socket_path_;
  std::unique_ptr<EventLoop> loop_ = make_loop(GetParam());
  FakeBackend backend_;
  std::unique_ptr<ControlServer> server_;
  proto::FrameDecoder decoder_;
};

TEST_P(ControlServerTest, StatusReplyCarriesEveryField) {
  auto fd = connect();
  const auto doc = parse(ask(fd.get(), R"({"type":"status"})"));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(member(doc, "type"), "status");
  EXPECT_EQ(member(doc, "result"), "ok");
  EXPECT_TRUE(doc.HasMember("message"));
  EXPECT_EQ(member(doc, "version"), "9.9.9");
  EXPECT_EQ(member(doc, "event_loop"), "select");
  EXPECT_EQ(doc["uptime_s"].GetUint64(), 61u);
  EXPECT_EQ(doc["clients"].GetUint64(), 2u);
  EXPECT_EQ(doc["rooms"].GetUint64(), 1u);
  EXPECT_EQ(doc["max_clients"].GetUint64(), 100u);
  EXPECT_EQ(doc["messages_in"].GetUint64(), 10u);
  EXPECT_EQ(doc["messages_out"].GetUint64(), 20u);
  EXPECT_EQ(doc["bytes_in"].GetUint64(), 300u);
  EXPECT_EQ(doc["bytes_out"].GetUint64(), 4000u);
}

TEST_P(ControlServerTest, WhoListsEveryUserWithCounters) {
  auto fd = connect();
  const auto doc = parse(ask(fd.get(), R"({"type":"who"})"));
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(member(doc, "result"), "ok");
  ASSERT_TRUE(doc["users"].IsArray());
  ASSERT_EQ(doc["users"].Size(), 2u);
  const auto& chris = doc["users"][1];
  EXPECT_STREQ(chris["nick"].GetString(), "chris");
  EXPECT_STREQ(chris["peer"].GetString(), "[::1]:6000");
  EXPECT_STREQ(chris["room"].GetString(), "games");
  EXPECT_EQ(chris["since"].GetInt64(), 1764118860);
  EXPECT_EQ(chris["messages_in"].GetUint64(), 3u);
  EXPECT_EQ(chris["messages_out"].GetUint64(), 4u);
  EXPECT_EQ(chris["bytes_in"].GetUint64(), 50u);
  EXPECT_EQ(chris["bytes_out"].GetUint64(), 60u);
  EXPECT_EQ(chris["sendq_bytes"].GetUint64(), 7u);
}

TEST_P(ControlServerTest, WhoWithManyUsersIsTruncatedToOneFrame) {
  backend_.users.clear();
  for (int i = 0; i < 3000; ++i) {
    backend_.users.push_back(
        {"user" + std::to_string(i), "127.0.0.1:40000", "lobby", 1764118800, 1, 2, 3, 4, 5});
  }
  auto fd = connect();
  const auto reply = ask(fd.get(), R"({"type":"who"})");
  ASSERT_TRUE(reply);
  EXPECT_LE(reply->size(), proto::kMaxPayload);
  const auto doc = parse(reply);
  EXPECT_EQ(member(doc, "result"), "ok");
  EXPECT_TRUE(doc["truncated"].GetBool());
  EXPECT_EQ(doc["total"].GetUint64(), 3000u);
  EXPECT_GT(doc["users"].Size(), 100u);
  EXPECT_LT(doc["users"].Size(), 3000u);
}

TEST_P(ControlServerTest, KickPassesNickAndReasonAndReportsUnknownNick) {
  auto fd = connect();
  EXPECT_EQ(
      member(parse(ask(fd.get(), R"({"type":"kick","nick":"pat","reason":"spam"})")), "result"),
      "ok");
  const auto missing = parse(ask(fd.get(), R"({"type":"kick","nick":"bob"})"));
  EXPECT_EQ(member(missing, "type"), "kick");
  EXPECT_EQ(member(missing, "result"), "no-such-nick");
  ASSERT_EQ(backend_.kicks.size(), 2u);
  EXPECT_EQ(backend_.kicks[0], (std::pair<std::string, std::string>{"pat", "spam"}));
  EXPECT_EQ(backend_.kicks[1].first, "bob");
  // No reason given: none passed on (the hub words the default, once).
  EXPECT_TRUE(backend_.kicks[1].second.empty());
}

TEST_P(ControlServerTest, SayReportsRecipientsAndRejectsBadMessagesBeforeTheBackend) {
  auto fd = connect();
  const auto ok = parse(ask(fd.get(), R"({"type":"say","message":"back in 5"})"));
  EXPECT_EQ(member(ok, "result"), "ok");
  EXPECT_EQ(ok["recipients"].GetUint64(), 2u);
  const auto bad = parse(ask(fd.get(), R"({"type":"say","message":"\u0007bell"})"));
  EXPECT_EQ(member(bad, "type"), "say");
  EXPECT_EQ(member(bad, "result"), "bad-message");
  EXPECT_EQ(backend_.said, (std::vector<std::string>{"back in 5"}));
}

TEST_P(ControlServerTest, VersionAndListCommands) {
  auto fd = connect();
  const auto version = parse(ask(fd.get(), R"({"type":"version"})"));
  EXPECT_EQ(member(version, "result"), "ok");
  EXPECT_FALSE(member(version, "version").empty());
  EXPECT_EQ(version["protocol"].GetInt(), proto::kProtocolVersion);
  const auto list = parse(ask(fd.get(), R"({"type":"list-commands"})"));
  ASSERT_TRUE(list["commands"].IsArray());
  std::vector<std::string> names;
  for (const auto& c : list["commands"].GetArray()) {
    names.emplace_back(c.GetString());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"status", "who", "kick", "say", "version",
                                             "list-commands", "account-add", "account-del",
                                             "account-passwd", "account-list"}));
}

TEST_P(ControlServerTest, UnknownCommandAndMalformedRequestsKeepTheChannelOpen) {
  auto fd = connect();
  const auto unknown = parse(ask(fd.get(), R"({"type":"reboot"})"));
  EXPECT_EQ(member(unknown, "type"), "reboot");
  EXPECT_EQ(member(unknown, "result"), "unknown-command");
  const auto garbage = parse(ask(fd.get(), "this is not json"));
  EXPECT_EQ(member(garbage, "type"), "error");
  EXPECT_EQ(member(garbage, "result"), "bad-request");
  EXPECT_EQ(member(parse(ask(fd.get(), R"({"type":"who"})")), "result"), "ok");
}

TEST_P(ControlServerTest, EmptyFrameIsAnsweredThenClosed) {
  auto fd = connect();
  ASSERT_TRUE(send_all(fd.get(), std::string("\0\0", 2)));
  const auto doc = parse(read_frame(fd.get(), decoder_, [this] { pump(); }));
  EXPECT_EQ(member(doc, "result"), "bad-request");
  EXPECT_TRUE(wait_for_eof(fd.get(), [this] { pump(); }));
}

TEST_P(ControlServerTest, FailingCommandGivesInternalErrorAndChannelSurvives) {
  backend_.throw_on_status = true;
  auto fd = connect();
  const auto doc = parse(ask(fd.get(), R"({"type":"status"})"));
  EXPECT_EQ(member(doc, "type"), "status");
  EXPECT_EQ(member(doc, "result"), "internal-error");
  EXPECT_EQ(member(parse(ask(fd.get(), R"({"type":"version"})")), "result"), "ok");
}

TEST_P(ControlServerTest, RequestsSplitAndPipelinedAreAnsweredInOrder) {
  auto fd = connect();
  std::string bytes = chat::test::frame_of(R"({"type":"version"})") +
                      chat::test::frame_of(R"({"type":"nope"})") +
                      chat::test::frame_of(R"({"type":"who"})");
  for (const char b : bytes) {
    ASSERT_TRUE(send_all(fd.get(), std::string_view(&b, 1)));
    pump();
  }
  for (const char* type : {"version", "nope", "who"}) {
    EXPECT_EQ(member(parse(read_frame(fd.get(), decoder_, [this] { pump(); })), "type"), type);
  }
}

TEST_P(ControlServerTest, IdleConnectionIsClosedByTick) {
  auto fd = connect();
  for (int i = 0; i < 20 && server_->connection_count() == 0; ++i) {
    pump();
  }
  ASSERT_EQ(server_->connection_count(), 1u);
  const auto deadline = server_->next_deadline();
  ASSERT_TRUE(deadline);
  server_->tick(*deadline - std::chrono::milliseconds(1));
  EXPECT_EQ(server_->connection_count(), 1u);
  server_->tick(*deadline + std::chrono::milliseconds(1));
  EXPECT_EQ(server_->connection_count(), 0u);
  EXPECT_FALSE(server_->next_deadline());
  EXPECT_TRUE(wait_for_eof(fd.get()));
}

TEST_P(ControlServerTest, ClientThatNeverReadsDoesNotStallOthers) {
  auto stuck = connect();
  // Requests whose replies it never reads: far more than the kernel buffer
  // and the server's high-water mark hold.
  const std::string frame = chat::test::frame_of(R"({"type":"who"})");
  std::string flood;
  for (int i = 0; i < 2000; ++i) {
    flood += frame;
  }
  ASSERT_TRUE(chat::net::set_nonblocking(stuck.get()));
  std::size_t sent = 0;
  for (int round = 0; round < 200 && sent < flood.size(); ++round) {
    const ssize_t n =
        ::send(stuck.get(), flood.data() + sent, flood.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    }
    pump();
  }
  auto other = connect();
  EXPECT_EQ(member(parse(ask(other.get(), R"({"type":"status"})")), "result"), "ok");
  EXPECT_EQ(server_->connection_count(), 2u);
}

TEST_P(ControlServerTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  // Root has kRootReserve slots beyond the shared ones.
  const std::size_t limit =
      ControlServer::kMaxConnections + (::geteuid() == 0 ? ControlServer::kRootReserve : 0);
  std::vector<UniqueFd> clients;
  for (std::size_t i = 0; i < limit; ++i) {
    clients.push_back(connect());
    pump();  // accept as they come: a full listen backlog blocks connect()
  }
  for (int i = 0; i < 100 && server_->connection_count() < limit; ++i) {
    pump();
  }
  ASSERT_EQ(server_->connection_count(), limit);
  auto extra = connect();
  EXPECT_TRUE(wait_for_eof(extra.get(), [this] { pump(); }));
  EXPECT_EQ(server_->connection_count(), limit);
  clients.pop_back();  // a slot frees up when one leaves
  for (int i = 0; i < 100 && server_->connection_count() == limit; ++i) {
    pump();
  }
  auto next = connect();
  EXPECT_EQ(member(parse(ask(next.get(), R"({"type":"version"})")), "result"), "ok");
}

// Issue 10 item 8: sixteen connections that trickle a byte now and then must
// not keep anyone out: the request deadline is absolute (bytes do not extend
// it), and root has slots of its own meanwhile.
TEST_P(ControlServerTest, TricklingConnectionsCannotHoldTheSlotsPastTheRequestDeadline) {
  const std::string frame = chat::test::frame_of(R"({"type":"status"})");
  std::vector<UniqueFd> slow;
  for (std::size_t i = 0; i < ControlServer::kMaxConnections; ++i) {
    slow.push_back(connect());
    ASSERT_TRUE(send_all(slow.back().get(), frame.substr(0, 1)));
    pump();
  }
  for (int i = 0; i < 100 && server_->connection_count() < ControlServer::kMaxConnections; ++i) {
    pump();
  }
  ASSERT_EQ(server_->connection_count(), ControlServer::kMaxConnections);
  // Every slow connection was accepted by now, so each deadline is at most
  // accepted_by + kRequestTimeout (they spread over the pumps above: a loaded machine
  // takes milliseconds per accept).
  const auto accepted_by = ControlServer::Clock::now();
  if (::geteuid() == 0) {
    // Root's status gets through at once, on a reserved slot.
    auto root = connect();
    EXPECT_EQ(member(parse(ask(root.get(), R"({"type":"status"})")), "result"), "ok");
  }
  const auto deadline = server_->next_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_LE(*deadline, ControlServer::Clock::now() + ControlServer::kRequestTimeout);
  // One more byte each, well after the accepts: it does not move the deadline (if it
  // did, the new deadlines would lie 100 ms past the tick below).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (auto& fd : slow) {
    ASSERT_TRUE(send_all(fd.get(), frame.substr(1, 1)));
  }
  for (int i = 0; i < 20; ++i) {
    pump();
  }
  server_->tick(accepted_by + ControlServer::kRequestTimeout + std::chrono::milliseconds(1));
  EXPECT_EQ(server_->connection_count(), 0u);
  for (auto& fd : slow) {
    EXPECT_TRUE(wait_for_eof(fd.get()));
  }
  auto next = connect();
  EXPECT_EQ(member(parse(ask(next.get(), R"({"type":"status"})")), "result"), "ok");
}

TEST_P(ControlServerTest, AnsweredRequestsRestartTheDeadline) {
  auto fd = connect();
  EXPECT_EQ(member(parse(ask(fd.get(), R"({"type":"version"})")), "result"), "ok");
  const auto first = server_->next_deadline();
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(member(parse(ask(fd.get(), R"({"type":"version"})")), "result"), "ok");
  const auto second = server_->next_deadline();
  ASSERT_TRUE(second);
  EXPECT_GT(*second, *first);
}

TEST_P(ControlServerTest, AccessFollowsUidAndGroups) {
  start(gid_t{4242}, gid_t{4343});
  const uid_t other = ::geteuid() == 0 ? 65534 : 0;
  const uid_t outsider = other == 0 ? 65533 : other;  // neither root nor chatd's uid
  EXPECT_EQ(server_->access_for(0, 0, {}), ControlAccess::kAdmin);
  EXPECT_EQ(server_->access_for(::geteuid(), 1, {}), ControlAccess::kAdmin);
  EXPECT_EQ(server_->access_for(outsider, 4242, {}), ControlAccess::kAdmin);
  EXPECT_EQ(server_->access_for(outsider, 100, {7, 4242}), ControlAccess::kAdmin);
  EXPECT_EQ(server_->access_for(outsider, 4343, {}), ControlAccess::kRead);
  EXPECT_EQ(server_->access_for(outsider, 100, {4343}), ControlAccess::kRead);
  EXPECT_EQ(server_->access_for(outsider, 100, {7}), ControlAccess::kNone);
  EXPECT_TRUE(is_read_only(*proto::find_control_command("who")));
  EXPECT_TRUE(is_read_only(*proto::find_control_command("status")));
  EXPECT_TRUE(is_read_only(*proto::find_control_command("version")));
  EXPECT_TRUE(is_read_only(*proto::find_control_command("list-commands")));
  EXPECT_FALSE(is_read_only(*proto::find_control_command("kick")));
  EXPECT_FALSE(is_read_only(*proto::find_control_command("say")));
}

TEST_P(ControlServerTest, HangupWhileRepliesAreUnreadClosesTheConnection) {
  auto fd = connect();
  ASSERT_TRUE(send_all(fd.get(), chat::test::frame_of(R"({"type":"version"})")));
  fd.reset();
  for (int i = 0; i < 200 && server_->connection_count() != 0; ++i) {
    pump();
  }
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_P(ControlServerTest, SocketIsCreatedWithMode0660WhateverTheUmask) {
  struct stat st {};
  ASSERT_EQ(::stat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  const mode_t old = ::umask(0);
  const auto path = dir_.file("open.ctl");
  auto created = ControlServer::create_socket(path);
  ::umask(old);
  ASSERT_TRUE(std::holds_alternative<UniqueFd>(created));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_P(ControlServerTest, SocketDirectoryIsCreatedWhenMissing) {
  const auto path = dir_.file("run/chatd/chatd.ctl");
  auto created = ControlServer::create_socket(path);
  ASSERT_TRUE(std::holds_alternative<UniqueFd>(created)) << std::get<std::string>(created);
  EXPECT_TRUE(std::filesystem::is_socket(path));
}

TEST_P(ControlServerTest, StaleSocketFromACrashIsReplaced) {
  const auto path = dir_.file("stale.ctl");
  {
    auto first = ControlServer::create_socket(path);
    ASSERT_TRUE(std::holds_alternative<UniqueFd>(first));
  }  // closed without unlink, as after a crash
  ASSERT_TRUE(std::filesystem::is_socket(path));
  auto second = ControlServer::create_socket(path);
  ASSERT_TRUE(std::holds_alternative<UniqueFd>(second)) << std::get<std::string>(second);
  EXPECT_TRUE(connect_unix(path));
}

TEST_P(ControlServerTest, LiveSocketIsNotTakenOver) {
  auto second = ControlServer::create_socket(socket_path_);
  ASSERT_TRUE(std::holds_alternative<std::string>(second));
  EXPECT_NE(std::get<std::string>(second).find("another chatd is running"), std::string::npos);
  auto fd = connect();  // the first server still answers
  EXPECT_EQ(member(parse(ask(fd.get(), R"({"type":"version"})")), "result"), "ok");
}

TEST_P(ControlServerTest, TooLongPathIsRejectedNamingPathAndLimit) {
  const std::string path = dir_.path() + "/" + std::string(120, 'x') + ".ctl";
  auto created = ControlServer::create_socket(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(created));
  const auto& error = std::get<std::string>(created);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("107"), std::string::npos) << error;
  EXPECT_NE(error.find("108"), std::string::npos) << error;
}

TEST_P(ControlServerTest, RegularFileInTheWayIsNotRemoved) {
  const auto path = dir_.file("file.ctl");
  { std::ofstream(path) << "data"; }
  auto created = ControlServer::create_socket(path);
  ASSERT_TRUE(std::holds_alternative<std::string>(created));
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
}

TEST_P(ControlServerTest, DestructionRemovesItsSocketAndFds) {
  server_.reset();
  EXPECT_FALSE(std::filesystem::exists(socket_path_));
}

// Runs `request` from a child process with the given ids and returns the
// reply's result ("<none>" if there was no reply).
std::string result_as(EventLoop& loop, const std::string& path, uid_t uid, gid_t gid,
                      const std::string& request) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    return "<pipe>";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
      ::_exit(2);
    }
    UniqueFd fd = connect_unix(path);
    proto::FrameDecoder decoder;
    std::string out = "<none>";
    if (fd) {
      // A refused peer is answered at accept and closed: the send may fail
      // when it comes late, the reply is still there to read.
      (void)send_all(fd.get(), chat::test::frame_of(request));
      if (auto reply = read_frame(fd.get(), decoder)) {
        out = *reply;
      }
    }
    // A pipe, not a socket: write(), not send().
    if (::write(pipe_fds[1], out.data(), out.size()) < 0) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  UniqueFd reader(pipe_fds[0]);
  std::string out;
  const auto deadline = chat::test::Clock::now() + chat::test::kPatience;
  while (chat::test::Clock::now() < deadline) {
    loop.run_once(std::chrono::milliseconds(5));
    pollfd p{reader.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      char buf[65536];
      const ssize_t n = ::read(reader.get(), buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const auto doc = parse(out);
  return doc.IsObject() ? member(doc, "result") : out;
}

TEST_P(ControlServerTest, UnprivilegedPeerIsDeniedAndAdminGroupIsAllowed) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to run a peer as another uid";
  }
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(socket_path_.c_str(), 0666);  // let the file mode pass so SO_PEERCRED decides
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 65534, R"({"type":"who"})"),
            "permission-denied");
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 65534, "garbage"), "permission-denied");
  EXPECT_TRUE(backend_.kicks.empty());
  start(gid_t{4242});
  ::chmod(socket_path_.c_str(), 0666);
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 4242, R"({"type":"version"})"), "ok");
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 65534, R"({"type":"version"})"),
            "permission-denied");
  // A read group: who yes, kick no; refused peers never take a slot.
  start(gid_t{4242}, gid_t{4343});
  ::chmod(socket_path_.c_str(), 0666);
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 4343, R"({"type":"who"})"), "ok");
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 4343, R"({"type":"kick","nick":"pat"})"),
            "permission-denied");
  EXPECT_TRUE(backend_.kicks.empty());
  EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 4242, R"({"type":"kick","nick":"pat"})"), "ok");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(result_as(*loop_, socket_path_, 65534, 65534, R"({"type":"status"})"),
              "permission-denied");
  }
  EXPECT_EQ(server_->connection_count(), 0u);
}

std::vector<std::string> loop_names() {
#ifdef CHAT_HAVE_DAEMON_LOOP
  return {"select", "epoll", "poll"};
#else
  return {"poll"};
#endif
}

INSTANTIATE_TEST_SUITE_P(Loops, ControlServerTest, ::testing::ValuesIn(loop_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace chat::daemon
