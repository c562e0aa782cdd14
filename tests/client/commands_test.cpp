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

TEST(ClientCommands, UnknownCommandAnswersOneLineAndSendsNothing) {
  const Action a = interpret("/bogus x");
  const auto* local = std::get_if<LocalAction>(&a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->lines,
            std::vector<std::string>{
                "*** unknown command /bogus, nothing sent (/help lists the commands)"});
}

TEST(ClientCommands, WhitespaceOnlyLinesSendNothing) {
  EXPECT_TRUE(std::holds_alternative<std::monostate>(interpret("   ")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(interpret(" \t ")));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(interpret("\u3000\u00a0 ")));
  EXPECT_EQ(chat_of(interpret(" x ")), " x ");
}

TEST(ClientCommands, JoinOfTheCurrentRoomSaysSoAndSendsNothing) {
  const Action a = interpret("/join dev", Context{"dev", std::nullopt});
  const auto* local = std::get_if<LocalAction>(&a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->lines, std::vector<std::string>{"*** you are already in dev"});
  EXPECT_TRUE(std::holds_alternative<SendAction>(interpret("/join ops", Context{"dev", {}})));
}

TEST(ClientCommands, ExtensionsTheServerLacksAnswerLocallyAndMeFallsBackToChat) {
  const Context part1{"", std::vector<std::string>{}};
  for (const char* line : {"/who", "/rooms", "/join dev", "/msg pat hi"}) {
    const Action a = interpret(line, part1);
    const auto* local = std::get_if<LocalAction>(&a);
    ASSERT_NE(local, nullptr) << line;
    const std::string name(line, std::string_view(line).find_first_of(" ") == std::string::npos
                                     ? std::string_view(line).size()
                                     : std::string_view(line).find(' '));
    EXPECT_EQ(local->lines.front(), "*** " + name + " is not supported by this server");
  }
  EXPECT_EQ(chat_of(interpret("/me waves", part1)), "*waves*");
  const Context modern{"lobby", std::vector<std::string>{"emote", "who"}};
  EXPECT_TRUE(std::holds_alternative<SendAction>(interpret("/who", modern)));
  EXPECT_TRUE(std::holds_alternative<LocalAction>(interpret("/rooms", modern)));
}

TEST(ClientCommands, HelpIsLocal) {
  const Action a = interpret("/help");
  const auto* local = std::get_if<LocalAction>(&a);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->lines, help_lines());
}

template <typename T>
T sent(const Action& a) {
  const auto* send = std::get_if<SendAction>(&a);
  EXPECT_NE(send, nullptr);
  const T* p = send != nullptr ? std::get_if<T>(&send->packet) : nullptr;
  EXPECT_NE(p, nullptr);
  return p != nullptr ? *p : T{};
}

bool is_usage(const Action& a) {
  const auto* local = std::get_if<LocalAction>(&a);
  return local != nullptr && local->lines.size() == 1 && local->lines[0].starts_with("*** usage: ");
}

TEST(ClientCommands, MsgAndMessageSendADm) {
  const auto dm = sent<proto::DmRequest>(interpret("/msg chris how's it going?"));
  EXPECT_EQ(dm.to, "chris");
  EXPECT_EQ(dm.message, "how's it going?");
  const auto dm2 = sent<proto::DmRequest>(interpret("/message   chris   a  b"));
  EXPECT_EQ(dm2.to, "chris");
  EXPECT_EQ(dm2.message, "a  b");
  EXPECT_TRUE(is_usage(interpret("/msg chris")));
  EXPECT_TRUE(is_usage(interpret("/msg")));
}

TEST(ClientCommands, MeWhoRoomsJoin) {
  EXPECT_EQ(sent<proto::EmoteRequest>(interpret("/me waves")).message, "waves");
  EXPECT_TRUE(is_usage(interpret("/me   ")));
  sent<proto::WhoRequest>(interpret("/who"));
  sent<proto::RoomsRequest>(interpret("/rooms"));
  EXPECT_EQ(sent<proto::EnterRequest>(interpret("/join games")).room, "games");
  EXPECT_TRUE(is_usage(interpret("/join")));
  EXPECT_TRUE(is_usage(interpret("/join two words")));
}

TEST(ClientCommands, CommandsAreCaseSensitiveAndExact) {
  EXPECT_TRUE(std::holds_alternative<LocalAction>(interpret("/Q")));
  EXPECT_TRUE(std::holds_alternative<LocalAction>(interpret("/quit")));
  EXPECT_TRUE(std::holds_alternative<LocalAction>(interpret("/msgchris hi")));
}

TEST(ClientComplete, CommandNameAsFirstWord) {
  const auto c = complete(U"/ms", 3, {});
  EXPECT_EQ(c.text, U"/msg ");
  EXPECT_EQ(c.cursor, 5u);
  const auto m = complete(U"/m", 2, {});
  EXPECT_EQ(m.text, U"/m");  // /me, /message, /msg share only "/m"
  EXPECT_EQ(m.candidates, (std::vector<std::string>{"/me", "/message", "/msg"}));
  const auto mess = complete(U"/mes", 4, {});
  EXPECT_EQ(mess.text, U"/message ");
}

TEST(ClientComplete, NicksCaseInsensitivelyAnywhereElse) {
  const std::vector<std::string> nicks{"Chris", "christine", "leslie"};
  EXPECT_EQ(complete(U"hi les", 6, nicks).text, U"hi leslie ");
  const auto c = complete(U"CH", 2, nicks);
  EXPECT_EQ(c.text, U"Chris");  // common prefix of Chris/christine, folded
  const auto both = complete(U"chris", 5, nicks);
  EXPECT_EQ(both.candidates, (std::vector<std::string>{"Chris", "christine"}));
  EXPECT_EQ(complete(U"/msg chrisT", 11, nicks).text, U"/msg christine ");
}

TEST(ClientComplete, CompletesTheWordBeforeTheCursorOnly) {
  const auto c = complete(U"les and more", 3, {"leslie"});
  EXPECT_EQ(c.text, U"leslie  and more");
  EXPECT_EQ(c.cursor, 7u);
  EXPECT_EQ(complete(U"nothing ", 8, {"leslie"}).text, U"nothing ");
  EXPECT_EQ(complete(U"zz", 2, {"leslie"}).text, U"zz");
}

}  // namespace
}  // namespace chat::client
