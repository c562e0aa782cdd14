// The real chat_client in a pseudo-terminal (and on pipes) against a server played by the test.
#include <gtest/gtest.h>
#include <termios.h>

#include <csignal>

#include "harness.hpp"
#include "protocol/codec.hpp"

namespace chat::test {
namespace {

constexpr int kRows = 24;
constexpr int kInputRow = kRows - 1;
constexpr int kLastLineRow = kRows - 2;

std::string chat(const std::string& nick, const std::string& message) {
  return proto::encode(proto::ServerPacket{proto::Chat{nick, message, false}});
}
std::string join(const std::string& nick) {
  return proto::encode(proto::ServerPacket{proto::Join{nick, std::nullopt}});
}
std::string leave(const std::string& nick) {
  return proto::encode(proto::ServerPacket{proto::Leave{nick, std::nullopt}});
}

// What the client sent, decoded as the server would.
proto::ClientPacket decode(const std::optional<std::string>& payload) {
  EXPECT_TRUE(payload.has_value()) << "no frame from the client";
  auto decoded = proto::decode_client(payload.value_or("{}"));
  if (auto* err = std::get_if<proto::DecodeError>(&decoded)) {
    ADD_FAILURE() << "client sent an invalid packet: " << *payload << ": " << err->message;
    return proto::WhoRequest{};
  }
  return std::get<proto::ClientPacket>(decoded);
}

std::string chat_text(const std::optional<std::string>& payload) {
  const auto packet = decode(payload);
  const auto* c = std::get_if<proto::ChatRequest>(&packet);
  EXPECT_NE(c, nullptr) << payload.value_or("");
  return c != nullptr ? c->message : "";
}

bool terminal_restored(const PtyClient& client) {
  termios t{};
  if (::tcgetattr(client.master(), &t) != 0) {
    return false;
  }
  return (t.c_lflag & ICANON) != 0 && (t.c_lflag & ECHO) != 0 && (t.c_lflag & ISIG) != 0;
}

class ChatClient : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<PtyClient>(
        std::vector<std::string>{"--timestamps=off", "--color=never", "--no-reconnect", "pat",
                                 "127.0.0.1", server_.port()},
        kRows, 80);
    ASSERT_TRUE(server_.accept());
    hello_ = server_.read_frame();
    ASSERT_TRUE(hello_.has_value());
    ASSERT_TRUE(client_->wait_row(kInputRow, "pat>")) << client_->dump();
  }
  void TearDown() override {
    // Under the asan/tsan presets the client is instrumented: a report lands on the pty.
    EXPECT_EQ(client_->raw().find("Sanitizer"), std::string::npos) << client_->raw();
    if (HasFailure() && client_) {
      std::cerr << "screen:\n" << client_->dump();
    }
  }
  void expect_clean_exit(int code) {
    EXPECT_EQ(client_->wait_exit(), code);
    EXPECT_TRUE(client_->raw().find("\x1b[r") != std::string::npos);
    EXPECT_TRUE(client_->wait_screen([](const VtScreen& s) { return s.scroll_region_reset(); }));
    EXPECT_TRUE(terminal_restored(*client_));
    EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
  }

  FakeServer server_;
  std::unique_ptr<PtyClient> client_;
  std::optional<std::string> hello_;
};

TEST_F(ChatClient, SendsHelloWithTheNickAndEveryCap) {
  const auto packet = decode(hello_);
  const auto* hello = std::get_if<proto::Hello>(&packet);
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->nick, "pat");
  EXPECT_EQ(hello->caps, (std::vector<std::string>{"dm", "emote", "who", "rooms", "info", "history",
                                                   "time", "moves"}));
}

TEST_F(ChatClient, RendersJoinChatLeaveInTheCourseFormats) {
  server_.send(join("pat"));
  server_.send(chat("pat", "Hello?"));
  server_.send(leave("chris"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** chris has left the chat"));
  EXPECT_EQ(client_->wait_row(kLastLineRow - 1, "pat: Hello?"), true);
  EXPECT_EQ(client_->wait_row(kLastLineRow - 2, "*** pat has joined the chat"), true);
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat>"));
  EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
}

TEST_F(ChatClient, InputLineSurvivesArrivingMessagesAndIsSentWhole) {
  client_->type("hello wo");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> hello wo"));
  for (int i = 0; i < 30; ++i) {
    server_.send(chat("chris", "interruption " + std::to_string(i)));
  }
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: interruption 29"));
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat> hello wo"));
  EXPECT_TRUE(client_->wait_screen(
      [](const VtScreen& s) { return s.cursor_row() == kInputRow && s.cursor_col() == 13; }));
  client_->type("rld\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "hello world");
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat>"));
  // Never echoed locally: the conversation still ends with the last received line.
  EXPECT_TRUE(client_->wait_row(kLastLineRow, "chris: interruption 29"));
  EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
}

TEST_F(ChatClient, BackspaceRemovesWholeWideCharacters) {
  client_->type("a中😀");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> a中😀"));
  EXPECT_TRUE(client_->wait_screen([](const VtScreen& s) { return s.cursor_col() == 10; }));
  client_->type("\x7f");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> a中"));
  EXPECT_TRUE(client_->wait_screen([](const VtScreen& s) { return s.cursor_col() == 8; }));
  client_->type("é\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "a中é");
}

TEST_F(ChatClient, CursorKeysEditInTheMiddleOfTheLine) {
  client_->type("held");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> held"));
  client_->type("\x1b[D\x1b[Dl\x1b[Ho \x1b[H\x1b[3~\x1b[F!");  // Left Left l Home, Delete, End
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat>  helld!")) << client_->dump();
  client_->type("\x01x\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "x helld!");
}

TEST_F(ChatClient, HistoryUpAndDownRecallLines) {
  client_->type("one\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "one");
  client_->type("two\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "two");
  client_->type("dr");
  client_->type("\x1b[A\x1b[A");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> one"));
  client_->type("\x1b[B\x1b[B");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> dr"));
  client_->type("\x1b[A\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "two");
}

TEST_F(ChatClient, LongInputScrollsSidewaysWithoutWrapping) {
  std::string text = "BEGIN";
  for (int i = 0; i < 145; ++i) {
    text += static_cast<char>('a' + i % 26);
  }
  client_->type(text);
  ASSERT_TRUE(client_->wait_screen([&](const VtScreen& s) {
    const std::string row = s.row(kInputRow);
    return row.starts_with("pat> ") && row.size() < 80 && text.ends_with(row.substr(5)) &&
           row.size() > 60;
  }));
  EXPECT_EQ(client_->dump().find("BEGIN"), std::string::npos);
  EXPECT_EQ(client_->dump().find("22|\n"), client_->dump().find("22|"));  // nothing wrapped
  client_->type("\r");
  EXPECT_EQ(chat_text(server_.read_frame()), text);
  EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
}

TEST_F(ChatClient, SlashQQuitsWithoutSendingAndRestoresTheTerminal) {
  client_->type("/q\r");
  expect_clean_exit(0);
  EXPECT_TRUE(server_.read_eof());
}

TEST_F(ChatClient, CtrlDOnAnEmptyLineQuitsWithZero) {
  client_->type("\x04");
  expect_clean_exit(0);
  EXPECT_TRUE(server_.read_eof());
}

TEST_F(ChatClient, CtrlCClearsATypedLineThenQuitsWith130) {
  client_->type("half typed");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> half typed"));
  client_->type("\x03");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat>"));
  client_->type("sent\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "sent");  // the cleared text was not
  client_->type("\x03");
  expect_clean_exit(130);
  EXPECT_TRUE(server_.read_eof());
}

TEST_F(ChatClient, SigtermQuitsWith143AndRestoresTheTerminal) {
  client_->signal(SIGTERM);
  expect_clean_exit(143);
}

TEST_F(ChatClient, HangupExitsWith129) {
  client_->signal(SIGHUP);
  EXPECT_EQ(client_->wait_exit(), 129);
  EXPECT_TRUE(terminal_restored(*client_));
}

TEST_F(ChatClient, CtrlLRepaintsTheScreen) {
  server_.send(chat("chris", "kept"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: kept"));
  client_->type("abc\x0c");
  EXPECT_TRUE(client_->wait_raw("\x1b[2J"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow, "chris: kept"));
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat> abc"));
}

TEST_F(ChatClient, ServerDisconnectIsShownAndExitsWith69) {
  server_.send(join("pat"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** pat has joined the chat"));
  server_.close_client();
  EXPECT_TRUE(client_->wait_text("*** connection closed by the server"));
  expect_clean_exit(69);
}

TEST_F(ChatClient, RejectedNickShowsTheErrorAndExitsWith76) {
  server_.send(proto::encode_error(proto::ErrorCode::kNickTaken, "nick already taken"));
  server_.close_client();
  EXPECT_TRUE(client_->wait_text("*** error: nick already taken (nick-taken)"));
  expect_clean_exit(76);
}

TEST_F(ChatClient, ErrorThatKeepsTheConnectionIsShownAndTheClientStays) {
  server_.send(proto::encode_error(proto::ErrorCode::kBadMessage, "bad message"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** error: bad message (bad-message)"));
  client_->type("still here\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "still here");
}

TEST_F(ChatClient, UnknownCommandAnswersOneLineAndSendsNothing) {
  client_->type("/frobnicate now\r");
  ASSERT_TRUE(client_->wait_row(
      kLastLineRow, "*** unknown command /frobnicate, nothing sent (/help lists the commands)"));
  client_->type("x");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> x"));
  EXPECT_EQ(client_->dump().find("*** commands:"), std::string::npos);
  client_->type("\x15");
  EXPECT_FALSE(server_.read_frame(std::chrono::milliseconds(200)).has_value());
  client_->type("//slash\r");
  EXPECT_EQ(chat_text(server_.read_frame()), "/slash");
}

TEST_F(ChatClient, HostileTextFromTheServerIsInert) {
  const std::string hostile =
      "x\x1b[2J\x1b]0;pwned\x07\xc2\x9b"
      "31m\xe2\x80\xae"
      "evil\xe2\x81\xa6\x7f\r\n\x1b"
      "c";
  server_.send(chat("mallory\x1b[H", hostile));
  server_.send(join("\x1b]52;c;ZXZpbA==\x07"));
  server_.send("{\"type\":\"chat\",\"nick\":\"a\",\"message\":\"\xff\x1b[2J\"}");  // not UTF-8
  server_.send(chat("chris", "after"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: after")) << client_->dump();
  EXPECT_TRUE(
      client_->wait_text("mallory^[[H: x^[[2J^[]0;pwned^G\xEF\xBF\xBD"
                         "31m"));
  EXPECT_TRUE(client_->wait_text("*** ^[]52;c;ZXZpbA==^G has joined the chat"));
  const std::string raw = client_->raw();
  EXPECT_EQ(raw.find("\x1b]"), std::string::npos);
  EXPECT_EQ(raw.find("\x1b"
                     "c"),
            std::string::npos);
  EXPECT_EQ(raw.find('\x07'), std::string::npos);
  EXPECT_EQ(raw.find("\xc2\x9b"), std::string::npos);
  EXPECT_EQ(raw.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_EQ(raw.find("\x1b[2J"), std::string::npos);
  EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
}

TEST_F(ChatClient, WindowResizeRedrawsAtTheNewSize) {
  server_.send(chat("chris", "before resize"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: before resize"));
  client_->type("typed");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> typed"));
  client_->resize(30, 60);
  EXPECT_TRUE(client_->wait_row(29, "pat> typed")) << client_->dump();
  EXPECT_TRUE(client_->wait_row(28, "chris: before resize"));
  server_.send(chat("chris", "after resize"));
  EXPECT_TRUE(client_->wait_row(28, "chris: after resize"));
  EXPECT_TRUE(client_->wait_row(27, "chris: before resize"));
  EXPECT_TRUE(client_->wait_row(29, "pat> typed"));
}

// ---- extensions (PROTOCOL.md part 2) ------------------------------------------

template <typename T>
T expect_packet(FakeServer& server) {
  const auto payload = server.read_frame();
  const auto packet = decode(payload);
  const auto* p = std::get_if<T>(&packet);
  EXPECT_NE(p, nullptr) << payload.value_or("<none>");
  return p != nullptr ? *p : T{};
}

TEST_F(ChatClient, ExtensionCommandsSendTheirPackets) {
  client_->type("/msg chris how's it going?\r");
  const auto dm = expect_packet<proto::DmRequest>(server_);
  EXPECT_EQ(dm.to, "chris");
  EXPECT_EQ(dm.message, "how's it going?");
  client_->type("/message leslie  two  spaces\r");
  const auto dm2 = expect_packet<proto::DmRequest>(server_);
  EXPECT_EQ(dm2.to, "leslie");
  EXPECT_EQ(dm2.message, "two  spaces");
  client_->type("/me goes out to buy some snacky cakes\r");
  EXPECT_EQ(expect_packet<proto::EmoteRequest>(server_).message,
            "goes out to buy some snacky cakes");
  client_->type("/who\r");
  expect_packet<proto::WhoRequest>(server_);
  client_->type("/rooms\r");
  expect_packet<proto::RoomsRequest>(server_);
  client_->type("/join games\r");
  EXPECT_EQ(expect_packet<proto::EnterRequest>(server_).room, "games");
}

TEST_F(ChatClient, HelpAndIncompleteCommandsAreLocalOnly) {
  client_->type("/help\r");
  ASSERT_TRUE(client_->wait_text("/msg NICK text"));
  client_->type("/msg chris\r");
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** usage: /msg NICK text"));
  client_->type("/me\r");
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** usage: /me action"));
  EXPECT_FALSE(server_.read_frame(std::chrono::milliseconds(200)).has_value());
}

TEST_F(ChatClient, RendersExtensionPackets) {
  using proto::ServerPacket;
  server_.send(proto::encode(ServerPacket{proto::Welcome{"pat", "chatd/0", {"dm"}, "lobby"}}));
  server_.send(proto::encode(ServerPacket{proto::Chat{"leslie", "from before", true}}));
  server_.send(proto::encode(ServerPacket{proto::Dm{"pat", "chris", "how's it going?"}}));
  server_.send(proto::encode(ServerPacket{proto::Emote{"pat", "goes out", false}}));
  server_.send(proto::encode(ServerPacket{proto::Info{"server shutting down"}}));
  server_.send(proto::encode(ServerPacket{proto::WhoReply{"lobby", {"leslie", "pat"}}}));
  server_.send(proto::encode(ServerPacket{proto::RoomsReply{{{"games", 2}, {"lobby", 0}}}}));
  server_.send(R"({"type":"something-new","nick":"x"})");
  server_.send(chat("chris", "end"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: end"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 1, "*** rooms: games (2), lobby (0)"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 2, "*** in lobby: leslie, pat"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 3, "*** server shutting down"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 4, "[pat goes out]"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 5, "pat -> chris: how's it going?"));
  EXPECT_TRUE(client_->wait_row(kLastLineRow - 6, "leslie: from before"));
  // History is marked: drawn dim.
  EXPECT_NE(client_->raw().find("\x1b[2mleslie: from before\x1b[0m"), std::string::npos);
  EXPECT_EQ(client_->unexpected(), std::vector<std::string>{});
}

TEST_F(ChatClient, PromptShowsTheRoomOutsideTheLobby) {
  using proto::ServerPacket;
  server_.send(proto::encode(ServerPacket{proto::Welcome{"pat", "chatd/0", {"rooms"}, "lobby"}}));
  server_.send(proto::encode(ServerPacket{proto::Join{"pat", "lobby"}}));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** pat has joined lobby"));
  client_->type("x");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> x"));
  server_.send(proto::encode(ServerPacket{proto::Join{"pat", "games"}}));
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat [games]> x"));
  server_.send(proto::encode(ServerPacket{proto::Join{"chris", "lobby"}}));  // not us
  server_.send(chat("chris", "sync"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "chris: sync"));
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat [games]> x"));
  server_.send(proto::encode(ServerPacket{proto::Join{"pat", "lobby"}}));
  EXPECT_TRUE(client_->wait_row(kInputRow, "pat> x"));
}

TEST_F(ChatClient, TabCompletesCommandsAndSeenNicks) {
  server_.send(proto::encode(
      proto::ServerPacket{proto::Welcome{"pat", "chatd/0", proto::known_caps(), "lobby"}}));
  server_.send(join("chris"));
  server_.send(join("christine"));
  server_.send(join("leslie"));
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** leslie has joined the chat"));
  client_->type("/ms\t");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> /msg")) << client_->dump();
  client_->type("le\t");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> /msg leslie"));
  client_->type("hi \x17\x17");  // Ctrl-W twice: back to "/msg "
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> /msg"));
  client_->type("ch\t");
  ASSERT_TRUE(client_->wait_row(kInputRow, "pat> /msg chris"));
  client_->type("\t");  // chris, christine: listed
  ASSERT_TRUE(client_->wait_row(kLastLineRow, "*** chris christine"));
  client_->type("ti\tyo\r");
  const auto dm = expect_packet<proto::DmRequest>(server_);
  EXPECT_EQ(dm.to, "christine");
  EXPECT_EQ(dm.message, "yo");
}

// ---- outside a terminal ----------------------------------------------------------

TEST(ChatClientPlain, SendsLinesAndPrintsReceivedLines) {
  FakeServer server;
  PipedClient client({"bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  server.send(join("bot"));
  ASSERT_TRUE(client.wait_stdout("*** bot has joined the chat\n"));
  client.write_stdin("first line\nsecond\r\n");
  EXPECT_EQ(chat_text(server.read_frame()), "first line");
  EXPECT_EQ(chat_text(server.read_frame()), "second");
  server.send(chat("bot", "first line"));
  server.send(chat("eve", "\x1b[31mred"));
  server.send(chat("bot", "second"));
  ASSERT_TRUE(client.wait_stdout("bot: second\n"));
  client.close_stdin();
  EXPECT_TRUE(server.read_eof());  // the client shut its write side at end of input
  server.close_client();
  EXPECT_EQ(client.wait_exit(), 0);
  EXPECT_EQ(client.read_all_stdout(),
            "*** bot has joined the chat\nbot: first line\neve: ^[[31mred\nbot: second\n");
}

TEST(ChatClientPlain, ExtensionsAndHistoryArePlainLines) {
  FakeServer server;
  PipedClient client({"bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  client.write_stdin("/me beeps\n/msg pat hi there\n/nope\n");
  EXPECT_EQ(std::get<proto::EmoteRequest>(decode(server.read_frame())).message, "beeps");
  EXPECT_EQ(std::get<proto::DmRequest>(decode(server.read_frame())).message, "hi there");
  ASSERT_TRUE(
      client.wait_stdout("*** unknown command /nope, nothing sent (/help lists the commands)\n"));
  server.send(proto::encode(proto::ServerPacket{proto::Chat{"pat", "old", true}}));
  server.send(proto::encode(proto::ServerPacket{proto::Emote{"bot", "beeps", false}}));
  ASSERT_TRUE(client.wait_stdout("[history] pat: old\n[bot beeps]\n"));
  client.close_stdin();
  EXPECT_TRUE(server.read_eof());
  server.close_client();
  EXPECT_EQ(client.wait_exit(), 0);
  EXPECT_EQ(client.read_all_stdout().find('\x1b'), std::string::npos);
}

TEST(ChatClientPlain, SlashQQuitsAtOnceWithoutSending) {
  FakeServer server;
  PipedClient client({"bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  client.write_stdin("/q\nnever sent\n");
  EXPECT_EQ(client.wait_exit(), 0);
  EXPECT_TRUE(server.read_eof());
}

TEST(ChatClientPlain, RejectedNickExitsWith76) {
  FakeServer server;
  PipedClient client({"b@d", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  server.send(proto::encode_error(proto::ErrorCode::kNickInvalid, "nick is invalid"));
  server.close_client();
  EXPECT_EQ(client.wait_exit(), 76);
  EXPECT_EQ(client.read_all_stdout(),
            "*** error: nick is invalid (nick-invalid)\n*** connection closed by the server\n");
}

TEST(ChatClientPlain, ConnectionRefusedIsOneLineAndExitsWith69) {
  std::string port;
  {
    FakeServer closed;  // a port that was just free: nothing listens there now
    port = closed.port();
  }
  PipedClient client({"pat", "127.0.0.1", port});
  EXPECT_EQ(client.wait_exit(), 69);
  const std::string err = client.read_all_stderr();
  EXPECT_TRUE(err.starts_with("chat_client: ")) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(client.read_all_stdout(), "");
}

TEST(ChatClientPlain, UnknownHostExitsWith69) {
  PipedClient client({"pat", "no-such-host.invalid", "3490"});
  EXPECT_EQ(client.wait_exit(), 69);
  EXPECT_NE(client.read_all_stderr().find("no-such-host.invalid"), std::string::npos);
}

TEST(ChatClientPlain, MissingArgumentsExitWith64) {
  PipedClient client({"pat", "127.0.0.1"});
  EXPECT_EQ(client.wait_exit(), 64);
  EXPECT_NE(client.read_all_stderr().find("PORT"), std::string::npos);
}

TEST(ChatClientPlain, HelpAndVersionExitWithZero) {
  PipedClient help({"--help"});
  EXPECT_EQ(help.wait_exit(), 0);
  EXPECT_NE(help.read_all_stdout().find("NICK"), std::string::npos);
  PipedClient version({"--version"});
  EXPECT_EQ(version.wait_exit(), 0);
  EXPECT_TRUE(version.read_all_stdout().starts_with("chat_client "));
}

}  // namespace
}  // namespace chat::test
