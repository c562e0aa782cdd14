// Unit tests for what a typed line means.
#include "client/commands.hpp"

#include <gtest/gtest.h>

namespace chat::client {
namespace {

std::string chat_of(const Action& a) {
  const auto* send = std::get_if<SendAction>(&a);
  if (send == nullptr) {
    return "<not sent>";
  }
  const auto* c = std::get_if<proto::ChatRequest>(&send->packet);
  return c != nullptr ? c->message : "<not chat>";
}

TEST(ClientCommands, PlainLineIsAChatMessage) {
  EXPECT_EQ(chat_of(interpret("hello there")), "hello there");
}

TEST(ClientCommands, EmptyLineDoesNothing) {
  EXPECT_TRUE(std::holds_alternative<std::monostate>(interpret("")));
}

TEST(ClientCommands, SlashQQuits) {
  EXPECT_TRUE(std::holds_alternative<QuitAction>(interpret("/q")));
}

TEST(ClientCommands, DoubleSlashSendsTheRestAsChat) {
  EXPECT_EQ(chat_of(interpret("//etc/passwd")), "/etc/passwd");
}

TEST(ClientCommands, UnknownCommandShowsHelpAndSendsNothing) {
  const Action a = interpret("/bogus x");
  const auto* local = std::get_if<LocalAction>(&a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->lines.front(), "*** unknown command /bogus, nothing sent");
  EXPECT_GT(local->lines.size(), 2u);
}

TEST(ClientCommands, HelpIsLocal) {
  const Action a = interpret("/help");
  const auto* local = std::get_if<LocalAction>(&a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->lines, help_lines());
}

}  // namespace
}  // namespace chat::client
