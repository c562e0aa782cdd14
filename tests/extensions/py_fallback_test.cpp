// Each legacy fallback as the Python part-1-only peer (tests/interop/py_client.py) sees it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/extensions/ext_support.hpp"
#include "tests/integration/py_peer.hpp"
#include "tests/service/service_fixture.hpp"
#include "tests/support/subprocess.hpp"

#ifndef CHATCTL_PATH
#error "CHATCTL_PATH must name the chatctl binary"
#endif

namespace chat::test::ext {
namespace {

using PyFallback = svc::ServiceTest;

TEST_P(PyFallback, PartOneOnlyClientSeesEveryFallbackAsPlainChatJoinAndLeave) {
  const std::string ctl = tmp_.file("chatd.ctl");
  ChatdConfig c = config({"--control-socket=" + ctl});
  c.disable_control_socket = false;
  ASSERT_NO_FATAL_FAILURE(start_with(c));
  PyPeer kim = start_py_client("kim", port(), false);
  ASSERT_NE(kim.process, nullptr);
  ASSERT_TRUE(kim.next("*** kim has joined the chat"));
  // The same peer in --json mode: the raw packets, to prove no part 2 packet reaches it.
  PyPeer jay = start_py_client("jay", port(), true);
  ASSERT_NE(jay.process, nullptr);
  ASSERT_TRUE(kim.next("*** jay has joined the chat"));
  TestClient pat = join_modern(port(), "pat");
  ASSERT_TRUE(pat);
  ASSERT_TRUE(kim.next("*** pat has joined the chat"));

  // dm
  ASSERT_TRUE(pat.send_packet(dm_json("kim", "psst, kim")));
  EXPECT_TRUE(kim.next("pat -> kim: psst, kim"));
  // emote
  ASSERT_TRUE(pat.send_packet(emote_json("goes out to buy some snacky cakes")));
  EXPECT_TRUE(kim.next("*: pat goes out to buy some snacky cakes"));
  // info (operator message)
  const auto said = svc::chatctl(CHATCTL_PATH, ctl, {"say", "maintenance at 10"});
  ASSERT_EQ(said.exit_code, 0) << said.output();
  EXPECT_TRUE(kim.next("***: maintenance at 10"));
  // rooms: leave and join with the room member ignored
  ASSERT_TRUE(pat.send_packet(enter_json("games")));
  EXPECT_TRUE(kim.next("*** pat has left the chat"));
  ASSERT_TRUE(pat.send_chat("unheard in the lobby"));
  ASSERT_TRUE(pat.send_packet(enter_json("lobby")));
  EXPECT_TRUE(kim.next("*** pat has joined the chat"));
  // its own chat still works both ways
  ASSERT_TRUE(kim.process->write_stdin("still part 1\n"));
  EXPECT_TRUE(kim.next("kim: still part 1"));
  // graceful shutdown
  ASSERT_TRUE(chatd().signal(SIGTERM));
  EXPECT_TRUE(kim.next("***: server shutting down"));
  EXPECT_TRUE(kim.next("*** disconnected"));
  const auto status = chatd().wait_exit();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << ChatdProcess::describe_status(*status);

  // Everything jay received was a part 1 packet with part 1 members only.
  std::vector<std::string> jay_lines;
  while (auto line = jay.process->read_line()) {
    jay_lines.push_back(*line);
  }
  ASSERT_FALSE(jay_lines.empty());
  EXPECT_EQ(jay_lines.back(), "*** disconnected");
  jay_lines.pop_back();
  std::vector<std::string> types;
  for (const auto& line : jay_lines) {
    const Packet p = Packet::parse(line);
    ASSERT_TRUE(p.json) << line;
    types.push_back(p.type);
    if (p.type == "chat") {
      EXPECT_TRUE(is_exactly(p, "chat", {{"nick", p.get("nick")}, {"message", p.get("message")}}));
    } else {
      EXPECT_TRUE(p.type == "join" || p.type == "leave") << line;
      EXPECT_TRUE(is_exactly(p, p.type, {{"nick", p.get("nick")}}));
    }
  }
  // jay: its own join, pat's join, the emote and info fallbacks, pat's leave and
  // join, kim's chat, the shutdown notice (the dm was for kim).
  EXPECT_EQ(types, (std::vector<std::string>{"join", "join", "chat", "chat", "leave", "join",
                                             "chat", "chat"}))
      << lines_text(jay_lines);
}

INSTANTIATE_TEST_SUITE_P(EventLoop, PyFallback, ::testing::Values("select", "epoll"),
                         backend_test_name);

}  // namespace
}  // namespace chat::test::ext
