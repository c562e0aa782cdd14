// End to end: two real chat_clients in pseudo-terminals against the real chatd.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <regex>
#include <stdexcept>

#include "harness.hpp"
#include "tests/support/chatd_process.hpp"
#include "tests/support/sockets.hpp"

namespace chat::test {
namespace {

// The real chatd on a listener the test owns on 127.0.0.1:0, so that a crash and
// a restart keep the socket, as systemd's socket activation does.
class Chatd {
 public:
  Chatd() : listener_(listen_tcp("127.0.0.1")) {
    if (!listener_) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    start();
  }
  std::string port() const { return std::to_string(listener_.port); }
  // Kills chatd at once (a crash: no goodbye to anyone) and starts a new one on
  // the same listening socket.
  void crash_and_restart() {
    process_->signal(SIGKILL);
    process_->wait_exit();
    start();
  }
  // Graceful stop, as systemd or an operator does it.
  void terminate() { process_->terminate(); }

 private:
  void start() {
    ChatdConfig config;
    config.binary = CHATD_PATH;
    config.listen_fd = listener_.fd.get();
    config.args = {"--config=/dev/null"};
    std::string error;
    process_ = ChatdProcess::start(config, error);
    if (process_ == nullptr) {
      throw std::runtime_error(error);
    }
  }
  Listener listener_;
  std::unique_ptr<ChatdProcess> process_;
};

TEST(ChatClientEndToEnd, TwoClientsSeeEachOthersJoinChatAndLeave) {
  Chatd chatd;
  PtyClient pat({"--timestamps=off", "pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  PtyClient chris({"--timestamps=off", "chris", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(chris.wait_text("*** chris has joined lobby")) << chris.dump();
  ASSERT_TRUE(pat.wait_text("*** chris has joined lobby")) << pat.dump();

  pat.type("hello chris 你好\r");
  EXPECT_TRUE(chris.wait_row(22, "pat: hello chris 你好")) << chris.dump();
  EXPECT_TRUE(pat.wait_row(22, "pat: hello chris 你好")) << pat.dump();

  chris.type("/me waves\r");
  EXPECT_TRUE(pat.wait_row(22, "[chris waves]")) << pat.dump();
  chris.type("/msg pat psst\r");
  EXPECT_TRUE(pat.wait_row(22, "chris -> pat: psst")) << pat.dump();
  EXPECT_TRUE(chris.wait_row(22, "chris -> pat: psst")) << chris.dump();

  chris.type("/q\r");
  EXPECT_EQ(chris.wait_exit(), 0);
  EXPECT_TRUE(pat.wait_row(22, "*** chris has left the chat")) << pat.dump();
  EXPECT_TRUE(pat.wait_row(23, "pat>"));
  pat.type("/q\r");
  EXPECT_EQ(pat.wait_exit(), 0);
  EXPECT_EQ(pat.unexpected(), std::vector<std::string>{});
  EXPECT_EQ(chris.unexpected(), std::vector<std::string>{});
}

TEST(ChatClientEndToEnd, TakenNickIsShownAndExitsWith76) {
  Chatd chatd;
  PtyClient first({"--timestamps=off", "pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(first.wait_text("*** pat has joined lobby")) << first.dump();
  PtyClient second({"--timestamps=off", "PAT", "127.0.0.1", chatd.port()});
  EXPECT_TRUE(second.wait_text("(nick-taken)")) << second.dump();
  EXPECT_EQ(second.wait_exit(), 76);
  EXPECT_TRUE(second.wait_screen([](const VtScreen& s) { return s.scroll_region_reset(); }));
  first.type("/q\r");
  EXPECT_EQ(first.wait_exit(), 0);
}

TEST(ChatClientEndToEnd, ServerShutdownIsShownAndExitsWith69) {
  Chatd chatd;
  PtyClient pat({"--timestamps=off", "--no-reconnect", "pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  pat.type("half");
  ASSERT_TRUE(pat.wait_row(23, "pat> half"));
  chatd.terminate();
  EXPECT_TRUE(pat.wait_text("*** server shutting down")) << pat.dump();
  EXPECT_TRUE(pat.wait_text("*** connection closed by the server")) << pat.dump();
  EXPECT_EQ(pat.wait_exit(), 69);
  EXPECT_TRUE(pat.wait_screen([](const VtScreen& s) { return s.scroll_region_reset(); }));
  EXPECT_EQ(pat.unexpected(), std::vector<std::string>{});
}

TEST(ChatClientEndToEnd, RoomsPromptAndWhoAgainstChatd) {
  Chatd chatd;
  PtyClient pat({"--timestamps=off", "--color=never", "pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  PtyClient chris({"--timestamps=off", "chris", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** chris has joined lobby")) << pat.dump();
  pat.type("/join games\r");
  EXPECT_TRUE(pat.wait_row(23, "pat [games]>")) << pat.dump();
  EXPECT_TRUE(chris.wait_row(22, "*** pat moved to games")) << chris.dump();
  pat.type("/join games\r");
  EXPECT_TRUE(pat.wait_row(22, "*** you are already in games")) << pat.dump();
  pat.type("/who\r");
  EXPECT_TRUE(pat.wait_row(22, "*** in games: pat")) << pat.dump();
  pat.type("/rooms\r");
  EXPECT_TRUE(pat.wait_row(22, "*** rooms: games (1), lobby (1)")) << pat.dump();
  chris.type("only the lobby hears this\r");
  EXPECT_TRUE(chris.wait_row(22, "chris: only the lobby hears this")) << chris.dump();
  pat.type("/join lobby\r");
  EXPECT_TRUE(pat.wait_row(23, "pat>")) << pat.dump();
  // History replayed on entering, drawn dim.
  EXPECT_TRUE(pat.wait_text("chris: only the lobby hears this")) << pat.dump();
  EXPECT_NE(pat.raw().find("\x1b[2mchris: only the lobby hears this"), std::string::npos);
  chris.type("/q\r");
  pat.type("/q\r");
  EXPECT_EQ(chris.wait_exit(), 0);
  EXPECT_EQ(pat.wait_exit(), 0);
}

TEST(ChatClientEndToEnd, ReplayedHistoryShowsTheServersTime) {
  Chatd chatd;
  PipedClient bot({"bot", "127.0.0.1", chatd.port()});
  bot.write_stdin("said before\n");
  ASSERT_TRUE(bot.wait_stdout("bot: said before"));
  // The replay carries the server's ts (the time cap); plain mode prints it when asked.
  PipedClient late({"--timestamps=HH:MM:SS", "late", "127.0.0.1", chatd.port()}, {"TZ=UTC"});
  ASSERT_TRUE(late.wait_stdout("[history] bot: said before\n"));
  late.close_stdin();
  bot.close_stdin();
  const std::string out = late.read_all_stdout();
  EXPECT_TRUE(
      std::regex_search(out, std::regex(R"(\[\d\d:\d\d:\d\d\] \[history\] bot: said before)")))
      << out;
}

TEST(ChatClientEndToEnd, ReconnectsAfterAServerCrashBackInItsRoomWithTheLineIntact) {
  Chatd chatd;
  PtyClient pat({"--timestamps=off", "pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined lobby")) << pat.dump();
  pat.type("/join dev\r");
  ASSERT_TRUE(pat.wait_row(23, "pat [dev]>")) << pat.dump();
  pat.type("half typed");
  ASSERT_TRUE(pat.wait_row(23, "pat [dev]> half typed"));
  chatd.crash_and_restart();
  EXPECT_TRUE(pat.wait_text("*** reconnecting in 1 s (attempt 1)")) << pat.dump();
  // The first retry comes within 1.25 s; the harness waits up to 10 s.
  EXPECT_TRUE(pat.wait_text("*** reconnected to 127.0.0.1")) << pat.dump();
  EXPECT_TRUE(pat.wait_text("*** pat has joined dev")) << pat.dump();
  EXPECT_TRUE(pat.wait_row(23, "pat [dev]> half typed")) << pat.dump();
  PtyClient chris({"--timestamps=off", "chris", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(chris.wait_text("*** chris has joined lobby")) << chris.dump();
  chris.type("/join dev\r");
  ASSERT_TRUE(pat.wait_text("*** chris has joined dev")) << pat.dump();
  pat.type("\r");
  EXPECT_TRUE(chris.wait_text("pat: half typed")) << chris.dump();
  pat.type("/q\r");
  chris.type("/q\r");
  EXPECT_EQ(pat.wait_exit(), 0);
  EXPECT_EQ(chris.wait_exit(), 0);
}

}  // namespace
}  // namespace chat::test
