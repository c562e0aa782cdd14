// chatctl against the real chatd: socket-activated like under systemd, with real chat clients.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "ctl/exit_codes.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/sockets.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_client.hpp"

namespace chat::ctl {
namespace {

using chat::test::ChatdConfig;
using chat::test::ChatdProcess;
using chat::test::Clock;
using chat::test::kPatience;
using chat::test::Packet;
using chat::test::run_process;
using chat::test::RunResult;
using chat::test::TempDir;
using chat::test::TestClient;

rapidjson::Document parse(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return doc;
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "<none>";
}

// A chat connection: a legacy hello, or a modern one with the "info" capability.
TestClient connect_as(std::uint16_t port, const std::string& nick, bool modern) {
  TestClient c = TestClient::connect(port);
  const std::string hello =
      modern ? R"({"type":"hello","nick":)" + chat::test::json_string(nick) + R"(,"caps":["info"]})"
             : chat::test::hello_json(nick);
  EXPECT_TRUE(c && c.send_packet(hello)) << "cannot connect " << nick;
  return c;
}

// The member `name` of the next packet of `type` (others skipped); "<none>" on EOF
// or timeout.
std::string next_of(TestClient& c, const std::string& type, const std::string& name) {
  while (auto p = c.recv_packet()) {
    if (p->type == type) {
      return p->has(name) ? p->get(name) : "<none>";
    }
  }
  return "<none>";
}

bool closed(TestClient& c) {
  std::vector<Packet> before;
  const auto how = c.read_until_closed(before);
  return how == TestClient::Status::kEof || how == TestClient::Status::kReset;
}

class ChatctlChatdTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (chatd_ != nullptr && HasFailure()) {
      std::cerr << "---- chatd log ----\n" << chatd_->log() << "-------------------\n";
    }
  }

  // Starts chatd with its control socket at control_socket() (or `ctl_fd`, passed
  // as systemd would, named "ctl"); true once it reported READY=1. On failure,
  // start_error_ says why and exit_status_ holds chatd's wait status if it exited.
  bool start(int ctl_fd = -1) {
    chatd_.reset();
    ChatdConfig config;
    config.binary = CHATD_PATH;
    config.disable_control_socket = false;
    config.args = {"--control-socket=" + control_socket(), "--log-target=stderr",
                   "--config=/dev/null"};
    config.args.insert(config.args.end(), extra_args_.begin(), extra_args_.end());
    if (ctl_fd >= 0) {
      config.extra_fds = {{ctl_fd, "ctl"}};
    }
    exit_status_.reset();
    chatd_ = ChatdProcess::start(config, start_error_, kPatience, &exit_status_);
    return chatd_ != nullptr;
  }
  void start_with_control() { ASSERT_TRUE(start()) << start_error_; }

  std::uint16_t port() const { return chatd_->port(); }
  std::string control_socket() const { return dir_.file("ctl"); }

  RunResult chatctl(std::vector<std::string> args) {
    args.insert(args.begin(), {CHATCTL_PATH, "--socket", control_socket()});
    return run_process(args);
  }

  TempDir dir_;
  std::unique_ptr<ChatdProcess> chatd_;
  std::string start_error_;
  std::optional<int> exit_status_;
  std::vector<std::string> extra_args_;
};

TEST_F(ChatctlChatdTest, WhoShowsConnectedClientsAsTableAndJson) {
  start_with_control();
  TestClient pat = connect_as(port(), "pat", true);
  ASSERT_EQ(next_of(pat, "join", "nick"), "pat");
  TestClient chris = connect_as(port(), "chris", false);
  ASSERT_EQ(next_of(pat, "join", "nick"), "chris");
  const auto table = chatctl({"who"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("NICK  ", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("\nchris "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("\npat "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("127.0.0.1:"), std::string::npos) << table.out;
  const auto json = chatctl({"--json", "who"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  const auto doc = parse(json.out);
  ASSERT_TRUE(doc.IsObject()) << json.out;
  EXPECT_EQ(str(doc, "result"), "ok");
  ASSERT_TRUE(doc["users"].IsArray());
  std::vector<std::string> nicks;
  for (const auto& u : doc["users"].GetArray()) {
    nicks.push_back(str(u, "nick"));
    EXPECT_EQ(str(u, "room"), "lobby");
  }
  std::sort(nicks.begin(), nicks.end());
  EXPECT_EQ(nicks, (std::vector<std::string>{"chris", "pat"}));
  const auto status = parse(chatctl({"--json", "status"}).out);
  EXPECT_EQ(status["clients"].GetUint64(), 2u);
}

TEST_F(ChatctlChatdTest, KickDisconnectsTheUserAndAnnouncesLeave) {
  start_with_control();
  TestClient pat = connect_as(port(), "pat", true);
  ASSERT_EQ(next_of(pat, "join", "nick"), "pat");
  TestClient chris = connect_as(port(), "chris", true);
  ASSERT_EQ(next_of(chris, "join", "nick"), "chris");
  const auto r = chatctl({"kick", "pat", "too", "loud"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(next_of(pat, "error", "code"), "kicked");
  EXPECT_TRUE(closed(pat));
  EXPECT_EQ(next_of(chris, "leave", "nick"), "pat");
  const auto again = chatctl({"kick", "pat"});
  EXPECT_EQ(again.exit_code, kExitError);
  EXPECT_NE(again.err.find("no-such-nick"), std::string::npos) << again.err;
}

TEST_F(ChatctlChatdTest, SayReachesEveryClient) {
  start_with_control();
  TestClient modern = connect_as(port(), "pat", true);
  ASSERT_EQ(next_of(modern, "join", "nick"), "pat");
  TestClient legacy = connect_as(port(), "chris", false);
  ASSERT_EQ(next_of(legacy, "join", "nick"), "chris");
  const auto r = chatctl({"--json", "say", "maintenance", "at", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse(r.out)["recipients"].GetUint64(), 2u) << r.out;
  EXPECT_EQ(next_of(modern, "info", "message"), "maintenance at 10");
  const auto fallback = legacy.recv_packet();
  ASSERT_TRUE(fallback.has_value());
  EXPECT_EQ(fallback->type, "chat") << fallback->raw;
  EXPECT_EQ(fallback->get("nick"), "***");
  EXPECT_EQ(fallback->get("message"), "maintenance at 10");
  EXPECT_EQ(chatctl({"say", "bell\a"}).exit_code, kExitError);
}

TEST_F(ChatctlChatdTest, UnprivilegedUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to run chatctl as another uid";
  }
  start_with_control();
  ::chmod(dir_.path().c_str(), 0755);
  const std::vector<std::string> as_nobody = {
      "setpriv",    "--reuid=65534", "--regid=65534",  "--clear-groups",
      CHATCTL_PATH, "--socket",      control_socket(), "who"};
  const auto by_mode = run_process(as_nobody);  // the socket is 0660 root:root
  EXPECT_EQ(by_mode.exit_code, kExitNoPerm) << by_mode.err;
  ::chmod(control_socket().c_str(), 0666);
  const auto by_cred = run_process(as_nobody);  // chatd's SO_PEERCRED check
  EXPECT_EQ(by_cred.exit_code, kExitNoPerm) << by_cred.err;
  EXPECT_NE(by_cred.err.find("permission-denied"), std::string::npos) << by_cred.err;
  const std::string log = chatd_->log();
  EXPECT_NE(log.find("uid=65534"), std::string::npos) << log;
}

TEST_F(ChatctlChatdTest, ControlSocketPassedBySystemdIsUsed) {
  // A "ctl" socket bound by the test (as a socket unit with FileDescriptorName=ctl
  // would), at another path.
  const std::string passed = dir_.file("passed.ctl");
  UniqueFd ctl = chat::test::listen_unix(passed);
  ASSERT_TRUE(ctl);
  ASSERT_TRUE(start(ctl.get())) << start_error_;
  const auto r = run_process({CHATCTL_PATH, "--socket", passed, "version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("chatd ", 0), 0u) << r.out;
  struct stat st {};
  EXPECT_NE(::stat(control_socket().c_str(), &st), 0) << "created its own socket as well";
}

TEST_F(ChatctlChatdTest, FirstChatctlStartsChatdThroughSystemdSocketActivate) {
  if (::access("/usr/bin/systemd-socket-activate", X_OK) != 0) {
    GTEST_SKIP() << "systemd-socket-activate is not installed";
  }
  // systemd-socket-activate binds both sockets and exec()s chatd on the first
  // connection to either, as systemd would with two socket units.
  const std::uint16_t chat_port = chat::test::free_port();
  const std::string ctl = dir_.file("activated.ctl");
  std::string error;
  auto activate = chat::test::Subprocess::spawn(
      {"/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:" + std::to_string(chat_port), "-l",
       ctl, "--fdname=chat:ctl", CHATD_PATH, "--log-target=stderr", "--config", "/dev/null"},
      error);
  ASSERT_NE(activate, nullptr) << error;
  const auto deadline = Clock::now() + kPatience;
  struct stat st {};
  while (::stat(ctl.c_str(), &st) != 0 && Clock::now() < deadline) {
    ::poll(nullptr, 0, 10);
  }
  ASSERT_TRUE(S_ISSOCK(st.st_mode))
      << "systemd-socket-activate did not create " << ctl << ": " << activate->stderr_text();
  const auto version = run_process({CHATCTL_PATH, "--socket", ctl, "version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("chatd ", 0), 0u) << version.out;
  TestClient pat = connect_as(chat_port, "pat", true);
  ASSERT_EQ(next_of(pat, "join", "nick"), "pat");
  const auto who = run_process({CHATCTL_PATH, "--socket", ctl, "--json", "who"});
  EXPECT_EQ(who.exit_code, 0) << who.err;
  EXPECT_NE(who.out.find(R"("nick":"pat")"), std::string::npos) << who.out;
}

// Issue 10 item 8: sixteen control connections trickling bytes (or, from a
// disallowed uid, simply holding on) must not keep root's chatctl status out.
TEST_F(ChatctlChatdTest, SixteenSlowConnectionsDoNotKeepRootsStatusOut) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "root's reserved slot needs the test to run as root";
  }
  start_with_control();
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(control_socket().c_str(), 0666);
  std::vector<UniqueFd> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(chat::test::connect_unix(control_socket()));
    ASSERT_TRUE(slow.back());
    ASSERT_TRUE(chat::test::send_all(slow.back().get(), std::string(1, '\x01')));
  }
  // And sixteen from a disallowed uid, each holding its connection open.
  std::vector<pid_t> holders;
  for (int i = 0; i < 16; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
        ::_exit(2);
      }
      UniqueFd fd = chat::test::connect_unix(control_socket());
      (void)chat::test::send_all(fd.get(), std::string(1, '\x01'));
      ::poll(nullptr, 0, 3000);
      ::_exit(0);
    }
    holders.push_back(pid);
  }
  const auto t0 = Clock::now();
  const auto status = chatctl({"--timeout", "2", "status"});
  const auto took = Clock::now() - t0;
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_LT(took, std::chrono::seconds(2));
  for (const pid_t pid : holders) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

// Issue 10 item 10: every control-socket set-up failure exits 73 (EX_CANTCREAT),
// also when the event loop cannot watch it (it exited 71 before).
TEST_F(ChatctlChatdTest, ControlSocketTheLoopCannotWatchExits73) {
  // A regular file as the "ctl" socket: epoll refuses to watch it.
  const std::string file = dir_.file("not-a-socket");
  UniqueFd ctl(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(ctl);
  extra_args_ = {"--event-loop=epoll"};
  EXPECT_FALSE(start(ctl.get()));
  ASSERT_TRUE(exit_status_.has_value()) << start_error_;
  EXPECT_TRUE(WIFEXITED(*exit_status_) && WEXITSTATUS(*exit_status_) == 73) << start_error_;
}

TEST_F(ChatctlChatdTest, ControlSocketPathInTheWayExits73) {
  const std::string file = dir_.file("ctl");  // control_socket(): a regular file
  std::ofstream(file) << "x";
  EXPECT_FALSE(start());
  ASSERT_TRUE(exit_status_.has_value()) << start_error_;
  EXPECT_TRUE(WIFEXITED(*exit_status_) && WEXITSTATUS(*exit_status_) == 73) << start_error_;
}

}  // namespace
}  // namespace chat::ctl
