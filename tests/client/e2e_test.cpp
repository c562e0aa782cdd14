// End to end: two real chat_clients in pseudo-terminals against the real chatd.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>

#include "harness.hpp"

namespace chat::test {
namespace {

// chatd with a listening socket the test bound on 127.0.0.1:0, handed over the
// systemd way (LISTEN_FDS), so clients can connect at once without a port race.
class Chatd {
 public:
  Chatd() {
    UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (!sock || ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(sock.get(), 16) != 0 ||
        ::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = std::to_string(ntohs(addr.sin_port));
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(sock.get(), 3);  // dup2 clears close-on-exec on fd 3
      ::setenv("LISTEN_FDS", "1", 1);
      ::setenv("LISTEN_FDNAMES", "chat", 1);
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      ::execl(CHATD_PATH, "chatd", "--control-socket=", "--config=/dev/null",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Chatd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  const std::string& port() const { return port_; }
  // Graceful stop, as systemd or an operator does it.
  void terminate() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      pid_ = -1;
    }
  }

 private:
  std::string port_;
  pid_t pid_ = -1;
};

TEST(ChatClientEndToEnd, TwoClientsSeeEachOthersJoinChatAndLeave) {
  Chatd chatd;
  PtyClient pat({"pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined the chat")) << pat.dump();
  PtyClient chris({"chris", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(chris.wait_text("*** chris has joined the chat")) << chris.dump();
  ASSERT_TRUE(pat.wait_text("*** chris has joined the chat")) << pat.dump();

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
  PtyClient first({"pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(first.wait_text("*** pat has joined the chat")) << first.dump();
  PtyClient second({"PAT", "127.0.0.1", chatd.port()});
  EXPECT_TRUE(second.wait_text("(nick-taken)")) << second.dump();
  EXPECT_EQ(second.wait_exit(), 76);
  EXPECT_TRUE(second.wait_screen([](const VtScreen& s) { return s.scroll_region_reset(); }));
  first.type("/q\r");
  EXPECT_EQ(first.wait_exit(), 0);
}

TEST(ChatClientEndToEnd, ServerShutdownIsShownAndExitsWith69) {
  Chatd chatd;
  PtyClient pat({"pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined the chat")) << pat.dump();
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
  PtyClient pat({"pat", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** pat has joined the chat")) << pat.dump();
  PtyClient chris({"chris", "127.0.0.1", chatd.port()});
  ASSERT_TRUE(pat.wait_text("*** chris has joined the chat")) << pat.dump();
  pat.type("/join games\r");
  EXPECT_TRUE(pat.wait_row(23, "pat [games]>")) << pat.dump();
  EXPECT_TRUE(chris.wait_row(22, "*** pat has left the chat")) << chris.dump();
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

}  // namespace
}  // namespace chat::test
