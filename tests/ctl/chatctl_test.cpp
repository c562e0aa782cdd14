// The chatctl binary against a fake control socket served by the test, and against ControlServer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "ctl/exit_codes.hpp"
#include "daemon/control.hpp"
#include "test_util.hpp"
#include "tests/support/wire.hpp"

namespace chat::ctl {
namespace {

using chat::test::run_process;
using chat::test::RunResult;
using chat::test::TempDir;

// Serves one Unix socket from a thread: each connection's first request is
// recorded and answered with `reply` (or not at all when `reply` is empty).
class FakeDaemon {
 public:
  FakeDaemon(const std::string& path, std::string reply) : reply_(std::move(reply)) {
    sockaddr_un addr{};
    net::make_unix_address(path, addr);
    listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_.get(), 8) != 0) {
      throw std::runtime_error("cannot listen on " + path);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDaemon() {
    stop_ = true;
    thread_.join();
  }
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    std::vector<UniqueFd> held;  // connections left unanswered stay open
    while (!stop_) {
      pollfd p{listen_fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!fd) {
        continue;
      }
      proto::FrameDecoder decoder;
      std::string_view payload;
      bool got = false;
      const auto deadline = chat::test::Clock::now() + chat::test::kPatience;
      while (!stop_ && chat::test::Clock::now() < deadline) {
        if (decoder.next(payload) == proto::FrameDecoder::Status::kFrame) {
          got = true;
          break;
        }
        pollfd c{fd.get(), POLLIN, 0};
        if (::poll(&c, 1, 20) <= 0) {
          continue;
        }
        char buf[4096];
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n <= 0) {
          break;
        }
        decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      }
      if (got) {
        std::lock_guard lock(mutex_);
        requests_.emplace_back(payload);
      }
      if (got && !reply_.empty()) {
        chat::test::send_all(fd.get(), chat::test::frame_of(reply_));
      } else {
        held.push_back(std::move(fd));
      }
    }
  }

  std::string reply_;
  UniqueFd listen_fd_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

class ChatctlTest : public ::testing::Test {
 protected:
  RunResult chatctl(std::vector<std::string> args, const std::function<void()>& pump = {}) {
    args.insert(args.begin(), {CHATCTL_PATH, "--socket", socket_});
    return run_process(args, pump);
  }
  TempDir dir_;
  std::string socket_ = dir_.file("ctl");
};

constexpr const char* kWhoReply =
    R"({"type":"who","result":"ok","message":"","users":[{"nick":"pat","peer":"127.0.0.1:5000",)"
    R"("room":"lobby","since":1764118800,"messages_in":1,"messages_out":2,"bytes_in":3,)"
    R"("bytes_out":4,"sendq_bytes":0}],"total":1})";

TEST_F(ChatctlTest, WhoPrintsATableAndExitsZero) {
  FakeDaemon daemon(socket_, kWhoReply);
  const auto r = chatctl({"who"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NICK  PEER            ROOM   SINCE                 MSGS-IN  MSGS-OUT  BYTES-IN  "
            "BYTES-OUT  SENDQ\n"
            "pat   127.0.0.1:5000  lobby  2025-11-26T01:00:00Z        1         2         3  "
            "        4      0\n");
  EXPECT_EQ(daemon.requests(), (std::vector<std::string>{R"({"type":"who"})"}));
}

TEST_F(ChatctlTest, JsonPrintsTheReplyObjectUnchanged) {
  FakeDaemon daemon(socket_, kWhoReply);
  const auto r = chatctl({"--json", "who"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(kWhoReply) + "\n");
}

TEST_F(ChatctlTest, KickAndSaySendTheirArgumentsJoined) {
  {
    FakeDaemon daemon(socket_, R"({"type":"kick","result":"ok","message":"kicked pat"})");
    const auto r = chatctl({"kick", "pat", "too", "much", "spam"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "kicked pat\n");
    EXPECT_EQ(
        daemon.requests(),
        (std::vector<std::string>{R"({"type":"kick","nick":"pat","reason":"too much spam"})"}));
  }
  ::unlink(socket_.c_str());
  FakeDaemon daemon(socket_, R"({"type":"say","result":"ok","message":"","recipients":3})");
  const auto r = chatctl({"say", "back", "in", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "said to 3 clients\n");
  EXPECT_EQ(daemon.requests(),
            (std::vector<std::string>{R"({"type":"say","message":"back in 5"})"}));
}

TEST_F(ChatctlTest, ErrorReplyExitsOne) {
  FakeDaemon daemon(socket_,
                    R"({"type":"kick","result":"no-such-nick","message":"no user is called bob"})");
  const auto r = chatctl({"kick", "bob"});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "chatctl: kick: no-such-nick: no user is called bob\n");
}

TEST_F(ChatctlTest, PermissionDeniedReplyExits77) {
  FakeDaemon daemon(socket_,
                    R"({"type":"status","result":"permission-denied","message":"denied"})");
  const auto r = chatctl({"status"});
  EXPECT_EQ(r.exit_code, kExitNoPerm);
}

TEST_F(ChatctlTest, GarbageReplyExits76) {
  FakeDaemon daemon(socket_, "<html>");
  EXPECT_EQ(chatctl({"status"}).exit_code, kExitProtocol);
}

TEST_F(ChatctlTest, MissingSocketExits69NamingThePathAndARemedy) {
  const auto r = chatctl({"status"});
  EXPECT_EQ(r.exit_code, kExitUnavailable);
  EXPECT_NE(r.err.find(socket_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("systemctl start chatd.socket"), std::string::npos) << r.err;
}

TEST_F(ChatctlTest, DaemonThatNeverAnswersExits75WithinTheTimeout) {
  FakeDaemon daemon(socket_, "");
  const auto r = chatctl({"--timeout", "0.3", "who"});
  EXPECT_EQ(r.exit_code, kExitTimeout) << r.err;
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
}

TEST_F(ChatctlTest, UsageErrorsExit64) {
  EXPECT_EQ(chatctl({}).exit_code, kExitUsage);
  const auto bogus = chatctl({"frobnicate"});
  EXPECT_EQ(bogus.exit_code, kExitUsage);
  EXPECT_NE(bogus.err.find("unknown command 'frobnicate'"), std::string::npos) << bogus.err;
  EXPECT_NE(bogus.err.find("who"), std::string::npos) << bogus.err;
  const auto after_option = chatctl({"--socket", "/x", "frobnicate"});
  EXPECT_NE(after_option.err.find("unknown command 'frobnicate'"), std::string::npos)
      << after_option.err;
  EXPECT_EQ(chatctl({"kick"}).exit_code, kExitUsage);
  EXPECT_EQ(chatctl({"say"}).exit_code, kExitUsage);
  EXPECT_EQ(chatctl({"--timeout", "0", "who"}).exit_code, kExitUsage);
  EXPECT_EQ(chatctl({"--timeout", "soon", "who"}).exit_code, kExitUsage);
  const auto help = chatctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("list-commands"), std::string::npos);
}

// The help text is built from the command registry; it is pinned byte for byte as it was
// when each subcommand was written out by hand.
TEST_F(ChatctlTest, HelpTextIsUnchangedByTheRegistry) {
  const std::string footer =
      "Exit status: 0 ok, 1 the daemon answered with an error, 64 usage, 69 cannot connect,\n"
      "75 timeout, 76 unreadable reply, 77 permission denied. See chatctl(8).\n";
  const auto help = chatctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_EQ(help.out,
            "chatctl: administer a running chatd through its control socket\n"
            "Usage: chatctl [OPTIONS] SUBCOMMAND\n"
            "\n"
            "Options:\n"
            "  -h,--help                   Print this help message and exit\n"
            "  -s,--socket PATH=/run/chatd/chatd.ctl (Env:CHATCTL_SOCKET)\n"
            "                              control socket of chatd\n"
            "  -t,--timeout SEC:FLOAT in [0.001 - 3600]=5\n"
            "                              seconds for connect, send and reply together\n"
            "  -j,--json                   print the daemon's reply object unchanged\n"
            "  -V,--version                print chatctl's version and exit\n"
            "\n"
            "Subcommands:\n"
            "  who                         list the connected users\n"
            "  status                      show the server's state and counters\n"
            "  kick                        disconnect a user\n"
            "  say                         send an operator message to every client\n"
            "  version                     show chatd's version and protocol\n"
            "  list-commands               list the daemon's control commands\n"
            "  account                     account commands: add del passwd list\n"
            "\n" +
                footer);
  EXPECT_EQ(chatctl({"kick", "--help"}).out,
            "disconnect a user\n"
            "Usage: chatctl kick [OPTIONS] nick [reason...]\n"
            "\n"
            "Positionals:\n"
            "  nick NICK REQUIRED          nick to disconnect\n"
            "  reason REASON ...           reason shown to the user\n"
            "\n"
            "Options:\n"
            "  -h,--help                   Print this help message and exit\n"
            "\n" +
                footer);
  EXPECT_EQ(chatctl({"say", "--help"}).out,
            "send an operator message to every client\n"
            "Usage: chatctl say [OPTIONS] message...\n"
            "\n"
            "Positionals:\n"
            "  message MESSAGE ... REQUIRED\n"
            "                              the message\n"
            "\n"
            "Options:\n"
            "  -h,--help                   Print this help message and exit\n"
            "\n" +
                footer);
  const auto bogus = chatctl({"frobnicate"});
  EXPECT_EQ(bogus.err,
            "chatctl: unknown command 'frobnicate' (commands: who status kick say version "
            "list-commands account)\nRun chatctl --help for usage.\n");
  EXPECT_EQ(chatctl({"who", "extra"}).exit_code, kExitUsage);
}

TEST_F(ChatctlTest, SocketFileModeDeniesAnotherUserExits77) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to run chatctl as another uid";
  }
  FakeDaemon daemon(socket_, kWhoReply);
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(socket_.c_str(), 0600);
  const auto r = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              CHATCTL_PATH, "--socket", socket_, "who"});
  EXPECT_EQ(r.exit_code, kExitNoPerm) << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  EXPECT_TRUE(daemon.requests().empty());
}

// chatctl against the real ControlServer (with a fake chat backend).
class Backend : public daemon::ControlBackend {
 public:
  daemon::StatusInfo status() override {
    return {"0.1.0", 5, 0, 1, "poll(test)", 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ""};
  }
  std::vector<daemon::UserInfo> who() override { return {}; }
  bool kick(std::string_view, std::string_view) override { return false; }
  std::optional<std::size_t> say(std::string_view) override { return 0; }
};

TEST_F(ChatctlTest, RealControlServerAnswersAndDeniesNobody) {
  chat::test::PollLoop loop;
  Backend backend;
  auto created = daemon::ControlServer::create_socket(socket_);
  ASSERT_TRUE(std::holds_alternative<UniqueFd>(created));
  daemon::ControlServer server(loop, backend, std::move(std::get<UniqueFd>(created)), std::nullopt);
  const auto pump = [&loop] { loop.run_once(std::chrono::milliseconds(2)); };
  const auto status = chatctl({"status"}, pump);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("event loop:   poll(test)"), std::string::npos) << status.out;
  const auto kick = chatctl({"kick", "nobody"}, pump);
  EXPECT_EQ(kick.exit_code, kExitError);
  EXPECT_NE(kick.err.find("no-such-nick"), std::string::npos) << kick.err;
  // list-commands: the registry's names, in its order, one a line.
  const auto list = chatctl({"list-commands"}, pump);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  std::string names;
  for (const auto& command : proto::control_commands()) {
    names += std::string(command.name) + "\n";
  }
  EXPECT_EQ(list.out, names);
  EXPECT_EQ(list.out,
            "status\nwho\nkick\nsay\nversion\nlist-commands\naccount-add\naccount-del\n"
            "account-passwd\naccount-list\n");
  // The bounds reach the operator as the daemon words them.
  const auto long_reason = chatctl({"kick", "pat", std::string(401, 'r')}, pump);
  EXPECT_EQ(long_reason.exit_code, kExitError);
  EXPECT_EQ(long_reason.err,
            "chatctl: kick: bad-message: reason is too long (at most 400 bytes)\n");
  const auto long_say = chatctl({"say", std::string(32001, 's')}, pump);
  EXPECT_EQ(long_say.err, "chatctl: say: bad-message: message is too long (at most 32000 bytes)\n");
  const auto bad = chatctl({"say", "bell\a"}, pump);
  EXPECT_EQ(bad.exit_code, kExitError);
  EXPECT_NE(bad.err.find("bad-message"), std::string::npos) << bad.err;
  if (::geteuid() != 0) {
    return;
  }
  ::chmod(dir_.path().c_str(), 0755);
  ::chmod(socket_.c_str(), 0666);  // the file mode lets nobody in, SO_PEERCRED must not
  const auto denied = run_process({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                   CHATCTL_PATH, "--socket", socket_, "who"},
                                  pump);
  EXPECT_EQ(denied.exit_code, kExitNoPerm) << denied.err;
  EXPECT_NE(denied.err.find("permission-denied"), std::string::npos) << denied.err;
}

}  // namespace
}  // namespace chat::ctl
