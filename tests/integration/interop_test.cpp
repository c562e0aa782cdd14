// Interop: the Python peers written from PROTOCOL.md part 1 alone, against chatd and chat_client.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/py_peer.hpp"
#include "tests/support/subprocess.hpp"

#ifdef CHATD_PATH
#include "tests/support/chatd_fixture.hpp"
#endif

namespace chat::test {
namespace {

const std::string kPython = PYTHON3_PATH;
const std::string kInterop = INTEROP_DIR;

struct PyServer {
  std::unique_ptr<Subprocess> process;
  std::uint16_t port = 0;
};

PyServer start_py_server() {
  std::string error;
  PyServer s;
  s.process = Subprocess::spawn({kPython, kInterop + "/py_server.py", "0"}, error);
  if (s.process == nullptr) {
    ADD_FAILURE() << error;
    return s;
  }
  const auto line = s.process->read_line();
  if (!line) {
    ADD_FAILURE() << "py_server printed no port; stderr:\n" << s.process->stderr_text();
    return s;
  }
  s.port = static_cast<std::uint16_t>(std::stoi(*line));
  return s;
}

// Two py_clients chat through the server on `port`: joins, chats (UTF-8), leave.
void two_py_clients_chat(std::uint16_t port) {
  PyPeer alice = start_py_client("alice", port);
  ASSERT_NE(alice.process, nullptr);
  ASSERT_TRUE(alice.shows("*** alice has joined the chat"));
  PyPeer bob = start_py_client("bob", port);
  ASSERT_NE(bob.process, nullptr);
  ASSERT_TRUE(bob.shows("*** bob has joined the chat"));
  ASSERT_TRUE(alice.shows("*** bob has joined the chat"));

  ASSERT_TRUE(alice.say("hi bob, 你好 🎉"));
  EXPECT_TRUE(alice.shows("alice: hi bob, 你好 🎉"));
  EXPECT_TRUE(bob.shows("alice: hi bob, 你好 🎉"));
  ASSERT_TRUE(bob.say("hello alice"));
  EXPECT_TRUE(bob.shows("bob: hello alice"));
  EXPECT_TRUE(alice.shows("bob: hello alice"));

  ASSERT_TRUE(alice.say("/q"));
  const auto status = alice.process->wait_exit();
  ASSERT_TRUE(status.has_value()) << "py_client did not quit on /q";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_TRUE(bob.shows("*** alice has left the chat"));
  bob.process->close_stdin();
  EXPECT_TRUE(bob.process->wait_exit().has_value());
}

// The two Python peers agree with each other: the test tools themselves work.
TEST(Interop, PyClientsChatThroughPyServer) {
  PyServer server = start_py_server();
  ASSERT_NE(server.port, 0);
  two_py_clients_chat(server.port);
}

#ifdef CHATD_PATH
using ChatdInterop = ChatdTest;

TEST_P(ChatdInterop, ChatdServesPyClients) {
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  two_py_clients_chat(port());
}

TEST_P(ChatdInterop, PyClientSeesRawProtocolClientsOfChatd) {
  // A course client and our own raw client in one room: each sees the other's lines.
  ASSERT_NO_FATAL_FAILURE(start_chatd());
  PyPeer alice = start_py_client("alice", port());
  ASSERT_NE(alice.process, nullptr);
  ASSERT_TRUE(alice.shows("*** alice has joined the chat"));
  std::string error;
  TestClient raw = join_as(port(), "raw", error);
  ASSERT_TRUE(raw) << error;
  ASSERT_TRUE(alice.shows("*** raw has joined the chat"));
  ASSERT_TRUE(raw.send_byte_by_byte(frame(chat_json("split into bytes"))));
  EXPECT_TRUE(alice.shows("raw: split into bytes"));
  raw.reset();
  EXPECT_TRUE(alice.shows("*** raw has left the chat"));
}

INSTANTIATE_TEST_SUITE_P(EventLoop, ChatdInterop, ::testing::Values("select", "epoll"),
                         backend_test_name);
#endif

#ifdef CHAT_CLIENT_PATH
// chat_client in plain line mode (stdin is a pipe) talks to the course server.
TEST(Interop, ChatClientTalksToPyServer) {
  PyServer server = start_py_server();
  ASSERT_NE(server.port, 0);
  PyPeer kim = start_py_client("kim", server.port);
  ASSERT_NE(kim.process, nullptr);
  ASSERT_TRUE(kim.shows("*** kim has joined the chat"));

  std::string error;
  PyPeer pat{
      "chat_client",
      Subprocess::spawn({CHAT_CLIENT_PATH, "pat", "127.0.0.1", std::to_string(server.port)}, error),
      {}};
  ASSERT_NE(pat.process, nullptr) << error;
  ASSERT_TRUE(pat.shows("*** pat has joined the chat"));
  ASSERT_TRUE(kim.shows("*** pat has joined the chat"));

  ASSERT_TRUE(kim.say("hello pat"));
  EXPECT_TRUE(pat.shows("kim: hello pat"));
  ASSERT_TRUE(pat.say("hi kim, 你好 🎉"));
  EXPECT_TRUE(kim.shows("pat: hi kim, 你好 🎉"));
  // What chat_client shows of its own line is the server's echo.
  EXPECT_TRUE(pat.shows("pat: hi kim, 你好 🎉"));

  ASSERT_TRUE(pat.say("/q"));
  const auto status = pat.process->wait_exit();
  ASSERT_TRUE(status.has_value()) << "chat_client did not exit on /q";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "chat_client exit status " << *status << "; stderr:\n"
      << pat.process->stderr_text();
  EXPECT_TRUE(kim.shows("*** pat has left the chat"));
}
#endif

}  // namespace
}  // namespace chat::test
