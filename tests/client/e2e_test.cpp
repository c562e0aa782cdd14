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

}  // namespace
}  // namespace chat::test
