// chatctl against the real chatd: socket-activated like under systemd, with real chat clients.
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "ctl/exit_codes.hpp"
#include "test_util.hpp"
#include "tests/wire.hpp"

namespace chat::ctl {
namespace {

using chat::testing::Clock;
using chat::testing::kWait;
using chat::testing::run_process;
using chat::testing::RunResult;
using chat::testing::TempDir;

rapidjson::Document parse(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return doc;
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "<none>";
}

// A chat connection speaking the wire protocol directly.
class Client {
 public:
  Client(std::uint16_t port, const std::string& nick, bool modern) {
    std::string error;
    fd_ = net::connect_tcp("127.0.0.1", std::to_string(port), error);
    const std::string hello = modern
                                  ? R"({"type":"hello","nick":")" + nick + R"(","caps":["info"]})"
                                  : R"({"type":"hello","nick":")" + nick + R"("})";
    chat::testing::send_all(fd_.get(), chat::test::frame_of(hello));
  }
  // The next packet of `type` (others skipped); empty doc on EOF or timeout.
  rapidjson::Document next(const std::string& type) {
    for (;;) {
      auto payload = chat::testing::read_frame(fd_.get(), decoder_);
      if (!payload) {
        return rapidjson::Document{};
      }
      auto doc = parse(*payload);
      if (str(doc, "type") == type) {
        return doc;
      }
    }
  }
  bool closed() { return chat::testing::wait_for_eof(fd_.get()); }

 private:
  UniqueFd fd_;
  proto::FrameDecoder decoder_;
};

class ChatctlChatdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The chat listener on an ephemeral port, handed over as systemd would.
    listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listen_fd_.get(), 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    // NOTIFY_SOCKET, to wait for READY=1 instead of sleeping.
    notify_fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un un{};
    ASSERT_TRUE(net::make_unix_address(dir_.file("notify"), un));
    ASSERT_EQ(::bind(notify_fd_.get(), reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  }

  void TearDown() override {
    stop();
    if (HasFailure()) {
      std::ifstream log(dir_.file("chatd.log"));
      std::stringstream ss;
      ss << log.rdbuf();
      std::cerr << "---- chatd log ----\n" << ss.str() << "-------------------\n";
    }
  }

  // Starts chatd with the chat listener as fd 3 (and `ctl_fd` as fd 4 if given);
  // true once it reported READY=1.
  bool start(int ctl_fd = -1) {
    const std::string log = dir_.file("chatd.log");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int chat_high = ::fcntl(listen_fd_.get(), F_DUPFD, 100);
      const int ctl_high = ctl_fd >= 0 ? ::fcntl(ctl_fd, F_DUPFD, 100) : -1;
      ::dup2(chat_high, 3);
      if (ctl_high >= 0) {
        ::dup2(ctl_high, 4);
      }
      const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log_fd, STDERR_FILENO);
      ::setenv("LISTEN_FDS", ctl_high >= 0 ? "2" : "1", 1);
      ::setenv("LISTEN_FDNAMES", ctl_high >= 0 ? "chat:ctl" : "chat", 1);
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      ::setenv("NOTIFY_SOCKET", dir_.file("notify").c_str(), 1);
      const std::string ctl_arg = "--control-socket=" + control_socket();
      std::vector<std::string> args = {CHATD_PATH, ctl_arg, "--log-target=stderr", "--config",
                                       "/dev/null"};
      args.insert(args.end(), extra_args_.begin(), extra_args_.end());
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(CHATD_PATH, argv.data());
      ::_exit(127);
    }
    const auto deadline = Clock::now() + kWait;
    while (Clock::now() < deadline) {
      pollfd p{notify_fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
          return false;
        }
        continue;
      }
      char buf[4096];
      const ssize_t n = ::recv(notify_fd_.get(), buf, sizeof buf, 0);
      if (n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).find("READY=1") !=
                       std::string_view::npos) {
        return true;
      }
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kWait;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      ::poll(nullptr, 0, 10);
    }
    pid_ = -1;
  }

  // Starts chatd and skips the test if this chatd does not serve the control socket yet.
  void start_with_control() {
    ASSERT_TRUE(start()) << "chatd did not report READY=1";
    struct stat st {};
    if (::stat(control_socket().c_str(), &st) != 0) {
      GTEST_SKIP() << "this chatd does not create its control socket (not wired in yet)";
    }
  }

  std::string control_socket() const { return dir_.file("ctl"); }

  RunResult chatctl(std::vector<std::string> args) {
    args.insert(args.begin(), {CHATCTL_PATH, "--socket", control_socket()});
    return run_process(args);
  }

  TempDir dir_;
  UniqueFd listen_fd_;
  UniqueFd notify_fd_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = -1;  // when start() saw chatd exit
  std::vector<std::string> extra_args_;
};

TEST_F(ChatctlChatdTest, WhoShowsConnectedClientsAsTableAndJson) {
  start_with_control();
  if (IsSkipped()) {
    return;
  }
  Client pat(port_, "pat", true);
  ASSERT_EQ(str(pat.next("join"), "nick"), "pat");
  Client chris(port_, "chris", false);
  ASSERT_EQ(str(pat.next("join"), "nick"), "chris");
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
  if (IsSkipped()) {
    return;
  }
  Client pat(port_, "pat", true);
  ASSERT_EQ(str(pat.next("join"), "nick"), "pat");
  Client chris(port_, "chris", true);
  ASSERT_EQ(str(chris.next("join"), "nick"), "chris");
  const auto r = chatctl({"kick", "pat", "too", "loud"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto error = pat.next("error");
  EXPECT_EQ(str(error, "code"), "kicked");
  EXPECT_TRUE(pat.closed());
  EXPECT_EQ(str(chris.next("leave"), "nick"), "pat");
  const auto again = chatctl({"kick", "pat"});
  EXPECT_EQ(again.exit_code, kExitError);
  EXPECT_NE(again.err.find("no-such-nick"), std::string::npos) << again.err;
}

TEST_F(ChatctlChatdTest, SayReachesEveryClient) {
  start_with_control();
  if (IsSkipped()) {
    return;
  }
  Client modern(port_, "pat", true);
  ASSERT_EQ(str(modern.next("join"), "nick"), "pat");
  Client legacy(port_, "chris", false);
  ASSERT_EQ(str(legacy.next("join"), "nick"), "chris");
  const auto r = chatctl({"--json", "say", "maintenance", "at", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse(r.out)["recipients"].GetUint64(), 2u) << r.out;
  EXPECT_EQ(str(modern.next("info"), "message"), "maintenance at 10");
  const auto fallback = legacy.next("chat");
  EXPECT_EQ(str(fallback, "nick"), "***");
  EXPECT_EQ(str(fallback, "message"), "maintenance at 10");
  EXPECT_EQ(chatctl({"say", "bell\a"}).exit_code, kExitError);
}

TEST_F(ChatctlChatdTest, UnprivilegedUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to run chatctl as another uid";
  }
  start_with_control();
  if (IsSkipped()) {
    return;
  }
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
  std::ifstream log(dir_.file("chatd.log"));
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_NE(ss.str().find("uid=65534"), std::string::npos) << ss.str();
}

TEST_F(ChatctlChatdTest, ControlSocketPassedBySystemdIsUsed) {
  start_with_control();  // only to learn whether this chatd serves one at all
  if (IsSkipped()) {
    return;
  }
  stop();
  // A "ctl" socket bound by the test (as a socket unit with FileDescriptorName=ctl
  // would), at another path.
  const std::string passed = dir_.file("passed.ctl");
  UniqueFd ctl(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un un{};
  ASSERT_TRUE(net::make_unix_address(passed, un));
  ASSERT_EQ(::bind(ctl.get(), reinterpret_cast<sockaddr*>(&un), sizeof un), 0);
  ASSERT_EQ(::listen(ctl.get(), 8), 0);
  ASSERT_TRUE(start(ctl.get())) << "chatd did not report READY=1";
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
  start_with_control();  // only to learn whether this chatd serves a control socket
  if (IsSkipped()) {
    return;
  }
  stop();
  // systemd-socket-activate binds both sockets and exec()s chatd on the first
  // connection to either, as systemd would with two socket units.
  const auto port = std::to_string(port_);
  listen_fd_.reset();  // free the port for systemd-socket-activate to bind
  const std::string ctl = dir_.file("activated.ctl");
  const std::string log = dir_.file("chatd.log");
  pid_ = ::fork();
  if (pid_ == 0) {
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log_fd, STDERR_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::execl("/usr/bin/systemd-socket-activate", "systemd-socket-activate", "-l",
            ("127.0.0.1:" + port).c_str(), "-l", ctl.c_str(), "--fdname=chat:ctl", CHATD_PATH,
            "--log-target=stderr", "--config", "/dev/null", nullptr);
    ::_exit(127);
  }
  const auto deadline = Clock::now() + kWait;
  struct stat st {};
  while (::stat(ctl.c_str(), &st) != 0 && Clock::now() < deadline) {
    ::poll(nullptr, 0, 10);
  }
  ASSERT_TRUE(S_ISSOCK(st.st_mode)) << "systemd-socket-activate did not create " << ctl;
  const auto version = run_process({CHATCTL_PATH, "--socket", ctl, "version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("chatd ", 0), 0u) << version.out;
  Client pat(port_, "pat", true);
  ASSERT_EQ(str(pat.next("join"), "nick"), "pat");
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
  if (IsSkipped()) {
    return;
  }
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(control_socket().c_str(), 0666);
  std::vector<UniqueFd> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(chat::testing::connect_unix(control_socket()));
    ASSERT_TRUE(slow.back());
    ASSERT_TRUE(chat::testing::send_all(slow.back().get(), std::string(1, '\x01')));
  }
  // And sixteen from a disallowed uid, each holding its connection open.
  std::vector<pid_t> holders;
  for (int i = 0; i < 16; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
        ::_exit(2);
      }
      UniqueFd fd = chat::testing::connect_unix(control_socket());
      (void)chat::testing::send_all(fd.get(), std::string(1, '\x01'));
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
  EXPECT_EQ(exit_status_, 73);
}

TEST_F(ChatctlChatdTest, ControlSocketPathInTheWayExits73) {
  const std::string file = dir_.file("ctl");  // control_socket(): a regular file
  std::ofstream(file) << "x";
  EXPECT_FALSE(start());
  EXPECT_EQ(exit_status_, 73);
}

}  // namespace
}  // namespace chat::ctl
