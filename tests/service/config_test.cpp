// Command line and config file: usage errors (64), config errors naming file:line (78), the
// command line winning, the control socket's path limit (73), and SIGHUP reloads.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/service/service_fixture.hpp"
#include "tests/support/subprocess.hpp"

#ifndef CHATCTL_PATH
#error "CHATCTL_PATH must name the chatctl binary"
#endif

namespace chat::test::svc {
namespace {

struct Outcome {
  int exit_code = -1;  // -1: killed, or still running at the deadline
  std::string output;
  std::string describe;
};

// Runs chatd to completion (bounded) with `args` after the binary.
Outcome run_chatd(const std::vector<std::string>& args) {
  std::vector<std::string> argv{CHATD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run_process(argv);
  return Outcome{r.exit_code, r.output(), r.describe()};
}

std::string hello_with_caps(const std::string& nick, const std::string& caps) {
  return R"({"type":"hello","nick":)" + json_string(nick) + R"(,"caps":[)" + caps + "]}";
}

// A modern client with the history cap: welcome, the replayed messages, its own join.
// The messages replayed are returned (nullopt and a failure if the order is wrong).
std::optional<std::vector<std::string>> history_seen_by(std::uint16_t port,
                                                        const std::string& nick) {
  TestClient c = TestClient::connect(port);
  if (!c || !c.send_packet(hello_with_caps(nick, R"("history")"))) {
    ADD_FAILURE() << "cannot connect " << nick;
    return std::nullopt;
  }
  auto welcome = c.recv_packet();
  if (!welcome || welcome->type != "welcome") {
    ADD_FAILURE() << "expected welcome, got " << (welcome ? welcome->raw : "nothing");
    return std::nullopt;
  }
  std::vector<std::string> replayed;
  while (true) {
    auto p = c.recv_packet();
    if (!p) {
      ADD_FAILURE() << "no join after the history";
      return std::nullopt;
    }
    if (p->type == "join") {
      if (p->get("nick") != nick) {
        ADD_FAILURE() << "expected our own join, got " << p->raw;
      }
      return replayed;
    }
    if (p->type != "chat" || p->get("history") != "true") {
      ADD_FAILURE() << "expected a history chat or the join, got " << p->raw;
      return std::nullopt;
    }
    replayed.push_back(p->get("message"));
  }
}

// ---- usage (64) ----------------------------------------------------------------

TEST(ChatdUsage, BadOptionsAndPortsExit64WithAMessage) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "");
  const std::vector<std::vector<std::string>> cases{
      {"--no-such-option", "3490"},
      {"0"},
      {"65536"},
      {"-1"},
      {"--port=0"},
      {"--port=65536"},
      {"--history=many", "3490"},
      {"--log-level=loud", "3490"},
      {"3490", "3491"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args{"--control-socket=", "--config=" + conf};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string joined;
    for (const auto& a : extra) {
      joined += a + " ";
    }
    SCOPED_TRACE(joined);
    const Outcome o = run_chatd(args);
    EXPECT_EQ(o.exit_code, 64) << o.describe << "\n" << o.output;
    EXPECT_FALSE(o.output.empty()) << "no message";
  }
}

TEST(ChatdUsage, NeitherPortNorPassedSocketsExits64SayingSo) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + conf});
  EXPECT_EQ(o.exit_code, 64) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find("PORT"), std::string::npos) << o.output;
}

TEST(ChatdUsage, SocketsPassedToAnotherPidDoNotCount) {
  // LISTEN_PID names someone else: those LISTEN_FDS are not chatd's (sd_listen_fds(3)).
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "");
  const RunResult r = run_process({"env", "LISTEN_FDS=1", "LISTEN_FDNAMES=chat", "LISTEN_PID=1",
                                   CHATD_PATH, "--control-socket=", "--config=" + conf});
  EXPECT_EQ(r.exit_code, 64) << r.describe() << "\n" << r.output();
}

// ---- config file errors (78) ------------------------------------------------------

TEST(ChatdConfigFile, UnknownKeyNamesFileAndLineAndExits78) {
  TempDir tmp;
  const std::string conf =
      tmp.write("chatd.conf", "# chatd test config\nhistory = 5\ncolour = blue\nmax-clients = 9\n");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
  EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find(conf + ":3"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("colour"), std::string::npos) << o.output;
}

TEST(ChatdConfigFile, BadValueNamesFileAndLineAndExits78) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases{
      {"max-clients = lots", "max-clients"},
      {"history = -1", "history"},
      {"hello-timeout = soon", "hello-timeout"},
      {"event-loop = kqueue", "event-loop"},
      {"port = 70000", "port"},
      {"log-level = loud", "log-level"},
  };
  for (const auto& [line, key] : cases) {
    SCOPED_TRACE(line);
    const std::string conf =
        tmp.write("chatd.conf", "# ok so far\nmax-per-address = 4\n\n" + line + "\n");
    const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
    EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
    EXPECT_NE(o.output.find(conf + ":4"), std::string::npos) << o.output;
    EXPECT_NE(o.output.find(key), std::string::npos) << o.output;
  }
}

TEST(ChatdConfigFile, AWordForANumberIsCalledNotANumber) {
  TempDir tmp;
  for (const std::string key : {"history", "max-clients", "hello-timeout", "flood-rate"}) {
    SCOPED_TRACE(key);
    const std::string conf = tmp.write("chatd.conf", key + " = lots\n");
    const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
    EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
    EXPECT_NE(o.output.find(conf + ":1: bad value for '" + key + "': 'lots' is not a number"),
              std::string::npos)
        << o.output;
  }
  // A number out of range still says so.
  const std::string conf = tmp.write("chatd.conf", "history = 99999\n");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
  EXPECT_EQ(o.output.find("not a number"), std::string::npos) << o.output;
}

// ---- --check-config ----------------------------------------------------------------

TEST(ChatdCheckConfig, GoodFileExitsZeroWithoutStarting) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "history = 5\nadmin-group = \"root\"\n");
  const Outcome o = run_chatd({"--check-config", "--config", conf});
  EXPECT_EQ(o.exit_code, 0) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find("configuration OK (" + conf + ")"), std::string::npos) << o.output;
}

TEST(ChatdCheckConfig, BadFileExits78NamingFileAndLine) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "history = 5\n\nfoo = 1\n");
  const Outcome o = run_chatd({"--check-config", "--config", conf});
  EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find(conf + ":3: unknown key 'foo'"), std::string::npos) << o.output;
}

TEST(ChatdCheckConfig, UnknownGroupExits78) {
  TempDir tmp;
  for (const std::string key : {"admin-group", "read-group"}) {
    const std::string conf = tmp.write("chatd.conf", key + " = \"no-such-group-here\"\n");
    const Outcome o = run_chatd({"--check-config", "--config", conf});
    EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
    EXPECT_NE(o.output.find(key + " 'no-such-group-here' does not exist"), std::string::npos)
        << o.output;
  }
}

TEST(ChatdCheckConfig, IsNotAConfigKey) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "check-config = true\n");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
  EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
}

TEST(ChatdConfigFile, BadValueOfARepeatedKeyNamesTheLineOfTheBadValue) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "history = 5\nmax-clients = 9\nhistory = -1\n");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + conf, "3490"});
  EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find(conf + ":3"), std::string::npos)
      << "line 3 holds the bad value; chatd said:\n"
      << o.output;
}

TEST(ChatdConfigFile, ExplicitConfigThatDoesNotExistExits78NamingIt) {
  TempDir tmp;
  const std::string missing = tmp.file("no-such.conf");
  const Outcome o = run_chatd({"--control-socket=", "--config=" + missing, "3490"});
  EXPECT_EQ(o.exit_code, 78) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find(missing), std::string::npos) << o.output;
}

// ---- the control socket's path ----------------------------------------------------

TEST(ChatdControlSocket, PathOverTheUnixLimitIsAClearErrorAndExit73) {
  TempDir tmp;
  const std::string conf = tmp.write("chatd.conf", "");
  std::string path = tmp.path() + "/";
  path += std::string(108 - path.size(), 'c');  // 108 bytes: one too many for sun_path
  ASSERT_EQ(path.size(), 108u);
  const std::uint16_t port = free_port();
  const Outcome o = run_chatd(
      {"--bind=127.0.0.1", "--control-socket=" + path, "--config=" + conf, std::to_string(port)});
  EXPECT_EQ(o.exit_code, 73) << o.describe << "\n" << o.output;
  EXPECT_NE(o.output.find("107"), std::string::npos) << "the limit is not named:\n" << o.output;
  EXPECT_NE(o.output.find(path), std::string::npos) << o.output;
}

using ChatdControlSocketPath = ServiceTest;

TEST_P(ChatdControlSocketPath, PathOfExactly107BytesWorks) {
  std::string path = tmp_.path() + "/";
  path += std::string(107 - path.size(), 'c');
  ChatdConfig c = config({"--control-socket=" + path});
  c.disable_control_socket = false;
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  const auto r = chatctl(CHATCTL_PATH, path, {"version"});
  EXPECT_EQ(r.exit_code, 0) << r.output();
}

INSTANTIATE_TEST_SUITE_P(EventLoop, ChatdControlSocketPath, ::testing::Values("select", "epoll"),
                         backend_test_name);

// ---- command line over file, and SIGHUP ----------------------------------------------

using Config = ServiceTest;

TEST_P(Config, CommandLineWinsOverTheFileAndTheFileFillsTheRest) {
  write_config("history = 1\nmax-clients = 2\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config({"--history=3"})));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pat.send_chat("line " + std::to_string(i)));
    ASSERT_TRUE(next_is(pat, "chat", {{"message", "line " + std::to_string(i)}}));
  }
  // history 3 from the command line, not 1 from the file.
  const auto replayed = history_seen_by(port(), "chris");
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(*replayed, (std::vector<std::string>{"line 3", "line 4", "line 5"}));
  // max-clients 2 from the file: chris's history connection has gone, so one more
  // fits, then the next is refused.
  ASSERT_TRUE(next_is(pat, "join", {{"nick", "chris"}}));
  ASSERT_TRUE(next_is(pat, "leave", {{"nick", "chris"}}));
  TestClient leslie = join("leslie");
  ASSERT_TRUE(leslie);
  TestClient third = connect();
  ASSERT_TRUE(third.send_hello("third"));
  EXPECT_TRUE(error_then_close(third, "server-full"));
}

TEST_P(Config, EmptyQuotedValuesAreAccepted) {
  // `admin-group = ""` and `bind = ""` mean "none"/"default", as --admin-group= does.
  write_config("admin-group = \"\"\nbind = \"\"\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config({})));
  TestClient pat = join("pat");
  EXPECT_TRUE(pat);
}

TEST_P(Config, EveryOptionHasAConfigKeyAndTheFileApplies) {
  const std::string ctl = tmp_.file("from-file.ctl");
  write_config(
      "# every key, quoted strings as in the shipped chatd.conf\n"
      "port = 3490\n"
      "bind = \"127.0.0.1\"\n"
      "max-clients = 7\n"
      "hello-timeout = 5.0\n"
      "sendq-limit = 1000000\n"
      "history = 7\n"
      "flood-rate = 100.0\n"
      "flood-burst = 300.0\n"
      "max-per-address = 50\n"
      "control-socket = \"" +
      ctl +
      "\"\n"
      "admin-group = \"root\"\n"
      "log-level = \"info\"\n"
      "log-target = \"stderr\"\n"
      "event-loop = \"" +
      GetParam() + "\"\n");
  ChatdConfig c = config();
  c.disable_control_socket = false;  // the file names it
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  const std::string log = chatd().log();
  EXPECT_NE(log.find("max_clients=7 "), std::string::npos) << log;
  EXPECT_NE(log.find("history=7"), std::string::npos) << log;
  EXPECT_NE(log.find("event_loop=" + GetParam()), std::string::npos) << log;
  const auto r = chatctl(CHATCTL_PATH, ctl, {"--json", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.output();
  EXPECT_EQ(Packet::parse(r.out.substr(0, r.out.find('\n'))).get("max_clients"), "7") << r.output();
}

// Sends SIGHUP and waits for RELOADING=1 and then READY=1 (the reload is complete).
::testing::AssertionResult reload(ChatdProcess& chatd) {
  const auto before = notification_lines(chatd).size();
  if (!chatd.signal(SIGHUP)) {
    return ::testing::AssertionFailure() << "chatd is gone";
  }
  const bool done = wait_until([&] {
    const auto lines = notification_lines(chatd);
    const auto reloading =
        std::find(lines.begin() + static_cast<long>(before), lines.end(), "RELOADING=1");
    return reloading != lines.end() && std::find(reloading, lines.end(), "READY=1") != lines.end();
  });
  if (!done) {
    return ::testing::AssertionFailure() << "no RELOADING=1 then READY=1 after SIGHUP";
  }
  return ::testing::AssertionSuccess();
}

TEST_P(Config, ReloadLoweringMaxClientsRefusesTheNextConnectionAndIsLogged) {
  write_config("max-clients = 10\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  TestClient chris = join("chris");
  ASSERT_TRUE(pat && chris);
  ASSERT_TRUE(next_is(pat, "join", {{"nick", "chris"}}));
  write_config("max-clients = 2\n");
  ASSERT_TRUE(reload(chatd()));
  TestClient third = connect();
  ASSERT_TRUE(third.send_hello("third"));
  EXPECT_TRUE(error_then_close(third, "server-full"));
  // Those already in stay.
  ASSERT_TRUE(chris.send_chat("still in"));
  EXPECT_TRUE(next_is(pat, "chat", {{"nick", "chris"}, {"message", "still in"}}));
  const std::string log = chatd().log();
  EXPECT_NE(log.find("event=reload key=max-clients"), std::string::npos) << log;
}

TEST_P(Config, ReloadShorteningTheHelloTimeoutAppliesToConnectionsAlreadyWaiting) {
  write_config("hello-timeout = 600\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient silent = connect();
  ASSERT_TRUE(silent);
  // chatd accepts in backlog order: once pat has joined, the silent connection
  // has been accepted too and is waiting under the 600 s timeout.
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  write_config("hello-timeout = 0.3\n");
  ASSERT_TRUE(reload(chatd()));
  // Counted from when it connected, the new timeout has nearly run out: the error
  // comes within the test's patience, ten minutes before the old one would.
  EXPECT_TRUE(error_then_close(silent, "hello-timeout"));
  const std::string log = chatd().log();
  EXPECT_NE(log.find("event=reload key=hello-timeout"), std::string::npos) << log;
  // A joined client is not affected.
  ASSERT_TRUE(pat.send_chat("still here"));
  EXPECT_TRUE(next_is(pat, "chat", {{"nick", "pat"}, {"message", "still here"}}));
}

TEST_P(Config, ReloadRaisingMaxClientsAdmitsMore) {
  write_config("max-clients = 1\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  {
    TestClient refused = connect();
    ASSERT_TRUE(refused.send_hello("chris"));
    ASSERT_TRUE(error_then_close(refused, "server-full"));
  }
  write_config("max-clients = 2\n");
  ASSERT_TRUE(reload(chatd()));
  TestClient chris = join("chris");
  EXPECT_TRUE(chris);
  EXPECT_TRUE(next_is(pat, "join", {{"nick", "chris"}}));
}

TEST_P(Config, ReloadLoweringHistoryReplaysOnlyTheNewCount) {
  write_config("history = 5\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pat.send_chat("line " + std::to_string(i)));
    ASSERT_TRUE(next_is(pat, "chat", {{"message", "line " + std::to_string(i)}}));
  }
  write_config("history = 2\n");
  ASSERT_TRUE(reload(chatd()));
  const auto replayed = history_seen_by(port(), "chris");
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(*replayed, (std::vector<std::string>{"line 4", "line 5"}))
      << "history 2 after the reload, yet more lines are replayed";
  const std::string log = chatd().log();
  EXPECT_NE(log.find("event=reload key=history"), std::string::npos) << log;
}

TEST_P(Config, ReloadToHistoryZeroReplaysNothing) {
  write_config("history = 5\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(pat.send_chat("before the reload"));
  ASSERT_TRUE(next_is(pat, "chat", {{"message", "before the reload"}}));
  write_config("history = 0\n");
  ASSERT_TRUE(reload(chatd()));
  ASSERT_TRUE(pat.send_chat("after the reload"));
  ASSERT_TRUE(next_is(pat, "chat", {{"message", "after the reload"}}));
  const auto replayed = history_seen_by(port(), "chris");
  ASSERT_TRUE(replayed.has_value());
  EXPECT_TRUE(replayed->empty()) << "history 0 (off), yet " << replayed->size()
                                 << " lines replayed, the first: " << replayed->front();
}

TEST_P(Config, ReloadRaisingHistoryKeepsMore) {
  write_config("history = 1\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  write_config("history = 3\n");
  ASSERT_TRUE(reload(chatd()));
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(pat.send_chat("line " + std::to_string(i)));
    ASSERT_TRUE(next_is(pat, "chat", {{"message", "line " + std::to_string(i)}}));
  }
  const auto replayed = history_seen_by(port(), "chris");
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(*replayed, (std::vector<std::string>{"line 2", "line 3", "line 4"}));
}

TEST_P(Config, BrokenConfigOnReloadKeepsTheOldSettingsAndChatdRuns) {
  write_config("max-clients = 1\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  for (const char* broken : {"max-clients = banana\n", "max-clients = 5\ncolour = blue\n"}) {
    SCOPED_TRACE(broken);
    write_config(broken);
    ASSERT_TRUE(reload(chatd()));
    ASSERT_FALSE(chatd().exited()) << "chatd stopped on a broken config";
    // The old limit (1) holds: even the valid max-clients = 5 beside the bad key is not applied.
    TestClient refused = connect();
    ASSERT_TRUE(refused.send_hello("chris"));
    EXPECT_TRUE(error_then_close(refused, "server-full"));
    ASSERT_TRUE(pat.send_chat("still serving"));
    EXPECT_TRUE(next_is(pat, "chat", {{"nick", "pat"}, {"message", "still serving"}}));
  }
  const std::string log = chatd().log();
  EXPECT_NE(log.find("event=reload-failed"), std::string::npos) << log;
  EXPECT_NE(log.find(config_path() + ":1"), std::string::npos) << "the failure names no file:line";
  // One line, clear words: no escaped newline at the end of the detail, and a
  // word where a number belongs is called that.
  EXPECT_EQ(log.find("\\n\""), std::string::npos) << log;
  EXPECT_NE(log.find("'banana' is not a number"), std::string::npos) << log;
  // A good file afterwards is applied: reloading still works after failures.
  write_config("max-clients = 2\n");
  ASSERT_TRUE(reload(chatd()));
  TestClient chris = join("chris");
  EXPECT_TRUE(chris);
}

TEST_P(Config, ReloadChangesTheLogLevel) {
  write_config("log-level = info\n");
  ASSERT_NO_FATAL_FAILURE(start_with(config()));
  TestClient pat = join("pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(wait_until([&] { return chatd().log().find("nick=pat") != std::string::npos; }))
      << "info-level join not logged at log-level info";
  write_config("log-level = warning\n");
  ASSERT_TRUE(reload(chatd()));
  EXPECT_NE(chatd().log().find("event=reload key=log-level"), std::string::npos) << chatd().log();
  TestClient zed = join("zed");
  ASSERT_TRUE(zed);
  ASSERT_TRUE(next_is(pat, "join", {{"nick", "zed"}}));
  // A warning still reaches the log (a refused hello is logged as a warning), and is
  // the sync point: the join before it was handled and not logged.
  TestClient bad = connect();
  ASSERT_TRUE(bad);
  ASSERT_TRUE(bad.send_packet(R"({"type":"hello","nick":"no spaces"})"));
  ASSERT_TRUE(wait_until([&] { return chatd().log().find("event=reject") != std::string::npos; }))
      << chatd().log();
  EXPECT_EQ(chatd().log().find("nick=zed peer"), std::string::npos)
      << "an info line logged at log-level warning:\n"
      << chatd().log();
}

INSTANTIATE_TEST_SUITE_P(EventLoop, Config, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::svc
