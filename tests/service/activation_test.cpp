// Socket activation: several chat listeners and a ctl socket passed in, systemd-socket-activate,
// chatd binding on its own, the control socket's stale-file handling, kill -9 and restart.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "tests/service/service_fixture.hpp"
#include "tests/support/subprocess.hpp"

#ifndef CHATCTL_PATH
#error "CHATCTL_PATH must name the chatctl binary"
#endif

namespace chat::test::svc {
namespace {

using Service = ServiceTest;

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A hello on `c` for `nick`, and its own join back.
::testing::AssertionResult conn_joins(TestClient& c, const std::string& nick) {
  if (!c) {
    return ::testing::AssertionFailure() << "cannot connect";
  }
  if (!c.send_packet(hello_json(nick))) {
    return ::testing::AssertionFailure() << "cannot send hello";
  }
  auto p = c.recv_packet();
  if (!p || p->type != "join" || p->get("nick") != nick) {
    return ::testing::AssertionFailure()
           << "expected the join of " << nick << ", got " << (p ? p->raw : "nothing");
  }
  return ::testing::AssertionSuccess();
}

TEST_P(Service, ServesIpv4AndIpv6ListenersAndTheCtlSocketPassedBySystemd) {
  Listener v6 = listen_tcp("::1");
  if (!v6) {
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  const std::string passed_ctl = tmp_.file("passed.ctl");
  UniqueFd ctl = listen_unix(passed_ctl);
  ASSERT_TRUE(ctl);
  // chatd must use the passed ctl socket, not create its own.
  const std::string own_ctl = tmp_.file("own.ctl");
  ChatdConfig c = config({"--control-socket=" + own_ctl});
  c.disable_control_socket = false;
  // fd 3 chat (127.0.0.1), fd 4 ctl, fd 5 chat (::1): chatd must go by name, not position.
  c.extra_fds = {{ctl.get(), "ctl"}, {v6.fd.get(), "chat"}};
  ASSERT_NO_FATAL_FAILURE(start_with(c));

  TestClient four = join("four");  // 127.0.0.1, fd 3
  ASSERT_TRUE(four);
  TestClient six = TestClient::connect("::1", v6.port);  // ::1, fd 5
  ASSERT_TRUE(conn_joins(six, "six"));
  EXPECT_TRUE(next_is(four, "join", {{"nick", "six"}}));
  // Both listeners feed the same room.
  ASSERT_TRUE(six.send_packet(chat_json("over IPv6")));
  EXPECT_TRUE(next_is(four, "chat", {{"nick", "six"}, {"message", "over IPv6"}}));
  ASSERT_TRUE(four.send_chat("over IPv4"));
  auto echo = six.recv_packet();
  ASSERT_TRUE(echo.has_value());
  EXPECT_EQ(echo->raw, R"({"type":"chat","nick":"six","message":"over IPv6"})");
  auto heard = six.recv_packet();
  ASSERT_TRUE(heard.has_value());
  EXPECT_EQ(heard->get("message"), "over IPv4") << heard->raw;

  // The ctl socket (fd 4) answers chatctl, and counts the clients of both listeners.
  const auto status = chatctl(CHATCTL_PATH, passed_ctl, {"--json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.output();
  const Packet reply = Packet::parse(status.output().substr(0, status.output().find('\n')));
  EXPECT_EQ(reply.get("result"), "ok") << status.output();
  EXPECT_EQ(reply.get("clients"), "2") << status.output();
  const auto who = chatctl(CHATCTL_PATH, passed_ctl, {"who"});
  EXPECT_EQ(who.exit_code, 0) << who.output();
  EXPECT_NE(who.output().find("[::1]:"), std::string::npos) << who.output();
  EXPECT_FALSE(exists(own_ctl)) << "chatd created --control-socket although systemd passed one";
}

TEST_P(Service, WithoutPassedSocketsBindsPortItselfAndIsReadyOnlyOnceEverySocketListens) {
  const std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  NotifySocket notify(tmp_.file("notify"));
  ASSERT_TRUE(notify);
  const std::string ctl = tmp_.file("run/chatd.ctl");  // its directory is created too
  std::string error;
  auto chatd = Subprocess::spawn(
      {"env", "NOTIFY_SOCKET=" + notify.path(), CHATD_PATH, "--event-loop=" + GetParam(),
       "--bind=127.0.0.1", "--control-socket=" + ctl, "--config=" + config_path(),
       "--log-target=stderr", std::to_string(port)},
      error);
  ASSERT_NE(chatd, nullptr) << error;
  ASSERT_TRUE(notify.wait_line("READY=1")) << chatd->stderr_text();
  // No retry from here on: READY=1 promises that both sockets already listen.
  std::string join_error;
  TestClient pat = join_as(port, "pat", join_error);
  EXPECT_TRUE(pat) << join_error;
  EXPECT_TRUE(is_socket(ctl));
  struct stat st {};
  ASSERT_EQ(::stat(ctl.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u) << std::oct << (st.st_mode & 0777);
  const auto version = chatctl(CHATCTL_PATH, ctl, {"version"});
  EXPECT_EQ(version.exit_code, 0) << version.output();

  chatd->kill(SIGTERM);
  const auto status = chatd->wait_exit();
  ASSERT_TRUE(status.has_value()) << "chatd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status) << "\n"
      << chatd->stderr_text();
  EXPECT_FALSE(exists(ctl)) << "the control socket outlived a clean stop";
}

TEST_P(Service, StaleControlSocketLeftByACrashIsReplaced) {
  const std::string ctl = tmp_.file("chatd.ctl");
  { UniqueFd crashed = listen_unix(ctl); }  // closed: the file stays, nobody listens
  ASSERT_TRUE(is_socket(ctl));
  ChatdConfig c = config({"--control-socket=" + ctl});
  c.disable_control_socket = false;
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  const auto version = chatctl(CHATCTL_PATH, ctl, {"version"});
  EXPECT_EQ(version.exit_code, 0) << version.output();
  EXPECT_NE(chatd().log().find("stale"), std::string::npos) << "the replacement is not logged";
}

TEST_P(Service, LiveControlSocketOfAnotherDaemonIsNotStolen) {
  const std::string ctl = tmp_.file("chatd.ctl");
  UniqueFd other = listen_unix(ctl);  // someone is listening there
  ASSERT_TRUE(other);
  ChatdConfig c = config({"--control-socket=" + ctl});
  c.disable_control_socket = false;
  std::string error;
  auto refused = ChatdProcess::start(c, error);
  ASSERT_EQ(refused, nullptr) << "chatd started on a control socket that is in use";
  EXPECT_NE(error.find("exit 73"), std::string::npos) << error;
  EXPECT_NE(error.find(ctl), std::string::npos) << error;
  EXPECT_TRUE(is_socket(ctl)) << "the live socket was removed";
}

TEST_P(Service, KillNineThenRestartOnTheSameSocketClientsReconnect) {
  // The listener belongs to the test, as it belongs to systemd: it outlives chatd.
  Listener chat = listen_tcp("127.0.0.1");
  ASSERT_TRUE(chat);
  const std::string ctl = tmp_.file("chatd.ctl");
  ChatdConfig c = config({"--control-socket=" + ctl});
  c.disable_control_socket = false;
  c.extra_fds = {{chat.fd.get(), "chat"}};
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  std::string error;
  TestClient alice = join_as(chat.port, "alice", error);
  ASSERT_TRUE(alice) << error;
  TestClient bob = join_as(chat.port, "bob", error);
  ASSERT_TRUE(bob) << error;
  ASSERT_TRUE(next_is(alice, "join", {{"nick", "bob"}}));

  ASSERT_TRUE(chatd().signal(SIGKILL));
  const auto killed = chatd().wait_exit();
  ASSERT_TRUE(killed.has_value());
  ASSERT_TRUE(WIFSIGNALED(*killed) && WTERMSIG(*killed) == SIGKILL)
      << ChatdProcess::describe_status(*killed);
  for (TestClient* client : {&alice, &bob}) {
    std::vector<Packet> last;
    const auto end = client->read_until_closed(last);
    EXPECT_TRUE(end == TestClient::Status::kEof || end == TestClient::Status::kReset)
        << status_name(end);
    EXPECT_TRUE(last.empty()) << "a dead chatd sent " << last.front().raw;
  }
  ASSERT_TRUE(is_socket(ctl)) << "kill -9 cannot clean up; the test expects the stale file";

  // A client that connects while chatd is down waits in the socket's backlog.
  TestClient carol = TestClient::connect(chat.port);
  ASSERT_TRUE(carol);
  ASSERT_TRUE(carol.send_hello("carol"));

  // Restart on the very same socket: the stale control socket must not block it.
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  EXPECT_TRUE(next_is(carol, "join", {{"nick", "carol"}})) << "the waiting client was not served";
  TestClient alice2 = join_as(chat.port, "alice", error);
  ASSERT_TRUE(alice2) << "alice cannot come back: " << error;
  TestClient bob2 = join_as(chat.port, "bob", error);
  ASSERT_TRUE(bob2) << "bob cannot come back: " << error;
  EXPECT_TRUE(next_is(carol, "join", {{"nick", "alice"}}));
  EXPECT_TRUE(next_is(carol, "join", {{"nick", "bob"}}));
  ASSERT_TRUE(alice2.send_chat("we are back"));
  EXPECT_TRUE(next_is(carol, "chat", {{"nick", "alice"}, {"message", "we are back"}}));
  EXPECT_TRUE(next_is(bob2, "chat", {{"nick", "alice"}, {"message", "we are back"}}));
  const auto status = chatctl(CHATCTL_PATH, ctl, {"--json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.output();
  EXPECT_EQ(Packet::parse(status.output().substr(0, status.output().find('\n'))).get("clients"),
            "3")
      << status.output();
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Service, ::testing::Values("select", "epoll"),
                         backend_test_name);

// systemd-socket-activate binds, waits for the first connection, then execs chatd
// with the sockets (OPS-NOTES §2). Once, with the default event loop.
TEST(ServiceActivation, SystemdSocketActivateStartsChatdOnTheFirstConnection) {
  TempDir tmp;
  const std::uint16_t port = free_port();
  ASSERT_NE(port, 0);
  NotifySocket notify(tmp.file("notify"));
  ASSERT_TRUE(notify);
  const std::string ctl = tmp.file("ctl");
  const std::string conf = tmp.write("chatd.conf", "");
  std::string error;
  auto activator = Subprocess::spawn(
      {"systemd-socket-activate", "-l", "127.0.0.1:" + std::to_string(port), "-l", ctl,
       "--fdname=chat:ctl", "-E", "NOTIFY_SOCKET=" + notify.path(), CHATD_PATH,
       "--control-socket=", "--config=" + conf, "--log-target=stderr"},
      error);
  if (activator == nullptr) {
    GTEST_SKIP() << "systemd-socket-activate is not installed: " << error;
  }
  // Nothing is started before a connection; this first one is what starts chatd.
  TestClient pat;
  ASSERT_TRUE(wait_until([&] {
    pat = TestClient::connect(port);
    return static_cast<bool>(pat);
  })) << "systemd-socket-activate never listened: "
      << activator->stderr_text();
  ASSERT_TRUE(pat.send_hello("pat"));
  EXPECT_TRUE(next_is(pat, "join", {{"nick", "pat"}})) << activator->stderr_text();
  EXPECT_TRUE(notify.wait_line("READY=1")) << activator->stderr_text();
  const auto version = chatctl(CHATCTL_PATH, ctl, {"version"});
  EXPECT_EQ(version.exit_code, 0) << version.output();
  EXPECT_NE(version.output().find("chatd"), std::string::npos) << version.output();

  activator->kill(SIGTERM);  // the same pid: systemd-socket-activate exec()ed chatd
  const auto status = activator->wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status) << "\n"
      << activator->stderr_text();
}

}  // namespace
}  // namespace chat::test::svc
