// Daily-use behaviour of the real chat_client in a pty (issue 13): small fixes, time
// stamps, mentions and colours, scrollback. The server is played by the test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "protocol/codec.hpp"

namespace chat::test {
namespace {

constexpr int kRows = 24;
constexpr int kInputRow = kRows - 1;
constexpr int kLastLineRow = kRows - 2;
// 2023-11-14 22:13:20 UTC, in Unix ms.
constexpr std::int64_t kThen = 1700000000000;

std::string packet(const proto::ServerPacket& p) {
  return proto::encode(p);
}

std::optional<proto::ClientPacket> decode(const std::optional<std::string>& payload) {
  if (!payload) {
    return std::nullopt;
  }
  auto decoded = proto::decode_client(*payload);
  if (auto* p = std::get_if<proto::ClientPacket>(&decoded)) {
    return *p;
  }
  return std::nullopt;
}

std::string chat_text(const std::optional<std::string>& payload) {
  const auto p = decode(payload);
  const auto* c = p ? std::get_if<proto::ChatRequest>(&*p) : nullptr;
  return c != nullptr ? c->message : "<no chat: " + payload.value_or("nothing") + ">";
}

// A fake server and the real client connected to it, prompt shown.
struct Session {
  explicit Session(std::vector<std::string> options, std::vector<std::string> env = {},
                   bool prompt = true) {
    options.insert(options.end(), {"pat", "127.0.0.1", server.port()});
    client = std::make_unique<PtyClient>(options, kRows, 80, env);
    ok = server.accept() && server.read_frame().has_value() &&
         (!prompt || client->wait_row(kInputRow, "pat>"));
  }
  // A Part-2 server's welcome, so the client knows the room and the caps.
  void welcome(const std::string& room = "lobby") {
    server.send(packet(proto::Welcome{"pat", "test", proto::known_caps(), room}));
  }
  int bells() {
    int n = 0;
    client->wait_screen([&n](const VtScreen& s) {
      n = s.bells();
      return true;
    });
    return n;
  }
  FakeServer server;
  std::unique_ptr<PtyClient> client;
  bool ok = false;
};

// ---- item 9: the small ones -------------------------------------------------

TEST(ChatClientDaily, PortsOutsideOneTo65535AreUsageErrors) {
  for (const char* port : {"85009", "0", "65536", "http", "12ab", ""}) {
    PipedClient client({"pat", "127.0.0.1", port});
    EXPECT_EQ(client.wait_exit(), 64) << port;
    EXPECT_NE(client.read_all_stderr().find("PORT"), std::string::npos) << port;
  }
}

TEST(ChatClientDaily, RecallingAHugeHistoryLineIsImmediate) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  // 60 000 characters: the old layout was quadratic and took ~20 s to show it.
  const std::string line = std::string(60000, 'x') + "END";
  s.client->type(line + "\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), line);
  ASSERT_TRUE(s.client->wait_row(kInputRow, "pat>"));
  s.client->type("\x1b[A");  // Up
  EXPECT_TRUE(s.client->wait_screen([](const VtScreen& v) {
    return v.row(kInputRow).ends_with("xxxEND");
  })) << s.client->dump();
  s.client->type("\x01");  // Home: the start of the line is shown
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> " + std::string(74, 'x')));
}

TEST(ChatClientDaily, DumbOrMissingTermGivesPlainLines) {
  for (const char* term : {"TERM=dumb", "TERM"}) {
    Session s({"--timestamps=off"}, {term}, false);  // plain mode: no prompt to wait for
    ASSERT_TRUE(s.ok) << term;
    s.server.send(packet(proto::Chat{"chris", "hi there"}));
    EXPECT_TRUE(s.client->wait_raw("chris: hi there")) << term;
    s.client->type("hello\n");
    EXPECT_EQ(chat_text(s.server.read_frame()), "hello") << term;
    EXPECT_EQ(s.client->raw().find("\x1b["), std::string::npos) << term << s.client->raw();
  }
}

TEST(ChatClientDaily, NonUtf8LocaleIsRefusedClearly) {
  FakeServer server;
  PtyClient client({"pat", "127.0.0.1", server.port()}, kRows, 80, {"LC_ALL=en_US.ISO-8859-1"});
  EXPECT_EQ(client.wait_exit(), 78);
  EXPECT_NE(client.raw().find("ISO-8859-1"), std::string::npos) << client.raw();
  EXPECT_NE(client.raw().find("UTF-8 only"), std::string::npos) << client.raw();
}

TEST(ChatClientDaily, AltKeysAreNotTyped) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type(
      "a\x1b"
      "b"
      "c\x1b\xc3\xa9"
      "d\x1b\x1b"
      "e"
      "f");  // Alt-b, Alt-é, ESC Alt-e
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> acdf")) << s.client->dump();
}

TEST(ChatClientDaily, WhitespaceOnlyLineIsNotSent) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type("   \r\t \r");
  s.client->type("real\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "real");
}

TEST(ChatClientDaily, RoomChangesSayWhereAndJoinOfTheSameRoomSaysSo) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.welcome();
  s.server.send(packet(proto::Join{"bob", "lobby"}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "*** bob has joined lobby"));
  s.server.send(packet(proto::Leave{"bob", "lobby", "dev"}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "*** bob moved to dev"));
  s.server.send(packet(proto::Leave{"eve", "lobby"}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "*** eve has left the chat"));
  s.client->type("/join lobby\r");
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "*** you are already in lobby"));
  s.client->type("/join dev\r");
  const auto sent = decode(s.server.read_frame());
  ASSERT_TRUE(sent && std::holds_alternative<proto::EnterRequest>(*sent));
  EXPECT_EQ(std::get<proto::EnterRequest>(*sent).room, "dev");
}

TEST(ChatClientDaily, OverLongLineIsRefusedWithAMessageAndKept) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type(std::string(70000, 'y') + "\r");
  EXPECT_TRUE(s.client->wait_text("*** line too long")) << s.client->dump();
  EXPECT_TRUE(
      s.client->wait_screen([](const VtScreen& v) { return v.row(kInputRow).ends_with("yyyy"); }));
  s.client->type("\x15ok\r");  // Ctrl-U: shorten it
  EXPECT_EQ(chat_text(s.server.read_frame()), "ok");
}

// ---- item 1: time stamps -----------------------------------------------------

TEST(ChatClientDaily, HistoryShowsWhenItWasSentAndLiveLinesAreStamped) {
  Session s({});
  ASSERT_TRUE(s.ok);
  s.welcome();
  s.server.send(packet(proto::Chat{"chris", "old news", true, kThen}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "[22:13] chris: old news")) << s.client->dump();
  s.server.send(packet(proto::Chat{"chris", "fresh"}));
  const std::regex stamped(R"(\[\d\d:\d\d\] chris: fresh)");
  EXPECT_TRUE(s.client->wait_screen(
      [&](const VtScreen& v) { return std::regex_match(v.row(kLastLineRow), stamped); }));
}

TEST(ChatClientDaily, TimestampsWithSecondsAndOff) {
  Session seconds({"--timestamps=HH:MM:SS"});
  ASSERT_TRUE(seconds.ok);
  seconds.server.send(packet(proto::Emote{"chris", "waves", true, kThen + 999}));
  EXPECT_TRUE(seconds.client->wait_row(kLastLineRow, "[22:13:20] [chris waves]"));
  Session off({"--timestamps=off"});
  ASSERT_TRUE(off.ok);
  off.server.send(packet(proto::Chat{"chris", "old", true, kThen}));
  EXPECT_TRUE(off.client->wait_row(kLastLineRow, "chris: old"));
}

TEST(ChatClientDaily, PlainModeStampsOnlyWhenAsked) {
  FakeServer server;
  PipedClient client({"--timestamps=HH:MM", "bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  server.send(packet(proto::Chat{"chris", "then", true, kThen}));
  EXPECT_TRUE(client.wait_stdout("[22:13] [history] chris: then\n"));
}

// ---- item 2: mentions, DMs, bell, colours -------------------------------------

TEST(ChatClientDaily, MentionsAndDmsAreBoldAndRingTheBell) {
  Session s({"--timestamps=off", "--color=never"});
  ASSERT_TRUE(s.ok);
  s.welcome();
  s.server.send(packet(proto::Chat{"chris", "patrick and spat are not you"}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: patrick and spat are not you"));
  EXPECT_EQ(s.bells(), 0);
  s.server.send(packet(proto::Chat{"chris", "hey @PAT, look"}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: hey @PAT, look"));
  EXPECT_TRUE(s.client->wait_raw("\x1b[1mchris: hey @PAT, look\x1b[0m"));
  EXPECT_EQ(s.bells(), 1);
  s.server.send(packet(proto::Dm{"eve", "pat", "psst"}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "eve -> pat: psst"));
  EXPECT_EQ(s.bells(), 2);
  s.server.send(packet(proto::Chat{"pat", "I am pat"}));  // our own line
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "pat: I am pat"));
  s.server.send(packet(proto::Chat{"chris", "pat: in history", true}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: pat: in history"));
  EXPECT_EQ(s.bells(), 2);
  EXPECT_EQ(s.client->unexpected(), std::vector<std::string>{});
}

TEST(ChatClientDaily, BellDmOnlyAndOff) {
  Session dm({"--timestamps=off", "--bell=dm"});
  ASSERT_TRUE(dm.ok);
  dm.server.send(packet(proto::Chat{"chris", "pat?"}));
  dm.server.send(packet(proto::Dm{"eve", "pat", "psst"}));
  ASSERT_TRUE(dm.client->wait_row(kLastLineRow, "eve -> pat: psst"));
  EXPECT_EQ(dm.bells(), 1);
  Session off({"--timestamps=off", "--bell=off"});
  ASSERT_TRUE(off.ok);
  off.server.send(packet(proto::Chat{"chris", "pat?"}));
  off.server.send(packet(proto::Dm{"eve", "pat", "psst"}));
  ASSERT_TRUE(off.client->wait_row(kLastLineRow, "eve -> pat: psst"));
  EXPECT_EQ(off.bells(), 0);
}

TEST(ChatClientDaily, NicksGetStableColoursUnlessNoColorOrNever) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.server.send(packet(proto::Chat{"chris", "one"}));
  s.server.send(packet(proto::Chat{"chris", "two"}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: two"));
  const std::string raw = s.client->raw();
  const std::regex coloured("\x1b\\[(3[1-6]|9[1-6])mchris\x1b\\[39m: one");
  std::smatch first;
  ASSERT_TRUE(std::regex_search(raw, first, coloured)) << raw;
  EXPECT_NE(raw.find("\x1b[" + first[1].str() + "mchris\x1b[39m: two"), std::string::npos);
  EXPECT_EQ(s.client->unexpected(), std::vector<std::string>{});

  for (const auto& [options, env] :
       std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>>{
           {{"--timestamps=off"}, {"NO_COLOR=1"}}, {{"--timestamps=off", "--color=never"}, {}}}) {
    Session plain(options, env);
    ASSERT_TRUE(plain.ok);
    plain.server.send(packet(proto::Chat{"chris", "one"}));
    ASSERT_TRUE(plain.client->wait_row(kLastLineRow, "chris: one"));
    EXPECT_FALSE(std::regex_search(plain.client->raw(), std::regex("\x1b\\[(3|9)[0-9]m")));
  }
}

// ---- item 3: scrollback ------------------------------------------------------

TEST(ChatClientDaily, PageUpScrollsBackNewLinesDoNotYankAndEndReturns) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  for (int i = 1; i <= 100; ++i) {
    s.server.send(packet(proto::Chat{"chris", "line " + std::to_string(i)}));
  }
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: line 100"));
  s.client->type("draft");
  s.client->type("\x1b[5~");  // PgUp: 21 lines back (a page of 22 keeps one of context)
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "-- more below --")) << s.client->dump();
  EXPECT_TRUE(s.client->wait_row(kLastLineRow - 1, "chris: line 79")) << s.client->dump();
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> draft"));
  s.client->type("\x1b[5;2~");  // Shift-PgUp
  EXPECT_TRUE(s.client->wait_row(kLastLineRow - 1, "chris: line 58")) << s.client->dump();
  s.server.send(packet(proto::Chat{"chris", "line 101"}));
  s.server.send(packet(proto::Chat{"chris", "line 102"}));
  s.client->type("x");  // a round trip through the client: the lines have arrived
  ASSERT_TRUE(s.client->wait_row(kInputRow, "pat> draftx"));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow - 1, "chris: line 58")) << s.client->dump();
  s.client->type("\x1b[6~");  // PgDn
  EXPECT_TRUE(s.client->wait_row(kLastLineRow - 1, "chris: line 79")) << s.client->dump();
  s.client->type("\x1b[F");  // End: back to the live end
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "chris: line 102")) << s.client->dump();
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> draftx"));
  s.client->type("\x1b[5~\r");  // Enter returns too, and sends
  EXPECT_EQ(chat_text(s.server.read_frame()), "draftx");
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "chris: line 102")) << s.client->dump();
  EXPECT_EQ(s.client->unexpected(), std::vector<std::string>{});
}

TEST(ChatClientDaily, ScrollbackKeepsTheConfiguredNumberOfLines) {
  Session s({"--timestamps=off", "--scrollback=30"});
  ASSERT_TRUE(s.ok);
  for (int i = 1; i <= 100; ++i) {
    s.server.send(packet(proto::Chat{"chris", "line " + std::to_string(i)}));
  }
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: line 100"));
  s.client->type("\x1b[5~\x1b[5~\x1b[5~");
  // The oldest kept line (71) stops at the top row.
  EXPECT_TRUE(s.client->wait_row(0, "chris: line 71")) << s.client->dump();
}

// ---- item 5: safe paste ------------------------------------------------------

std::string pasted(const std::string& text) {
  return "\x1b[200~" + text + "\x1b[201~";
}

TEST(ChatClientDaily, BracketedPasteIsTextATabDoesNotComplete) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  EXPECT_TRUE(s.client->wait_raw("\x1b[?2004h"));
  s.welcome();
  s.server.send(packet(proto::Join{"chris", "lobby"}));
  ASSERT_TRUE(s.client->wait_text("*** chris has joined lobby"));
  s.client->type(pasted("ch\tx"));
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> ch x")) << s.client->dump();
  s.client->type("\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "ch x");
}

TEST(ChatClientDaily, MultiLinePasteAsksThenSendsEachLineAsChat) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type("say: ");
  s.client->type(pasted("one\r\n/q\n\n  \nthree"));
  ASSERT_TRUE(s.client->wait_text("*** paste of 2 lines: Enter sends them as messages"))
      << s.client->dump();
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> three"));
  EXPECT_FALSE(s.server.read_frame(std::chrono::milliseconds(200)).has_value());
  s.client->type("\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "say: one");
  EXPECT_EQ(chat_text(s.server.read_frame()), "/q");  // text, not the quit command
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> three"));
  s.client->type("\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "three");
}

TEST(ChatClientDaily, MultiLinePasteCanBeCancelled) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type("draft");
  s.client->type(pasted("a\nb\nc\n"));
  ASSERT_TRUE(s.client->wait_text("*** paste of 3 lines"));
  s.client->type("\x03");
  EXPECT_TRUE(s.client->wait_text("*** paste cancelled; nothing sent"));
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> draft"));
  s.client->type("\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "draft");
}

// ---- item 4: reconnect -------------------------------------------------------

TEST(ChatClientDaily, DroppedConnectionReconnectsRejoinsAndKeepsTheLine) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.welcome();
  s.server.send(packet(proto::Join{"pat", "dev"}));
  ASSERT_TRUE(s.client->wait_row(kInputRow, "pat [dev]>"));
  s.client->type("typed meanwhile");
  s.server.close_client();
  EXPECT_TRUE(s.client->wait_text("*** reconnecting in 1 s (attempt 1)")) << s.client->dump();
  s.client->type("\r");  // not connected: refused and kept
  EXPECT_TRUE(s.client->wait_text("*** not connected; the line is kept"));
  ASSERT_TRUE(s.server.accept());
  const auto hello = decode(s.server.read_frame());
  ASSERT_TRUE(hello && std::holds_alternative<proto::Hello>(*hello));
  s.welcome();                                       // a new session starts in the lobby...
  const auto enter = decode(s.server.read_frame());  // ...and the client goes back to dev
  ASSERT_TRUE(enter && std::holds_alternative<proto::EnterRequest>(*enter));
  EXPECT_EQ(std::get<proto::EnterRequest>(*enter).room, "dev");
  EXPECT_TRUE(s.client->wait_row(kInputRow, "pat> typed meanwhile")) << s.client->dump();
  s.client->type("\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "typed meanwhile");
}

TEST(ChatClientDaily, AfterADropNickTakenIsRetriedNotFatal) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.server.close_client();
  ASSERT_TRUE(s.client->wait_text("*** reconnecting in 1 s (attempt 1)"));
  ASSERT_TRUE(s.server.accept());
  ASSERT_TRUE(s.server.read_frame().has_value());
  // The server has not noticed the old connection yet.
  s.server.send(proto::encode_error(proto::ErrorCode::kNickTaken, "nick pat is already connected"));
  s.server.close_client();
  EXPECT_TRUE(s.client->wait_text("*** reconnecting in 2 s (attempt 2)")) << s.client->dump();
  ASSERT_TRUE(s.server.accept());
  ASSERT_TRUE(s.server.read_frame().has_value());
  s.welcome();
  s.client->type("back\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "back");
}

TEST(ChatClientDaily, ASilentServerIsReportedAndItsReturnToo) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.client->type("anyone?\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "anyone?");
  // Others' lines are no answer to ours.
  s.server.send(packet(proto::Chat{"chris", "unrelated"}));
  EXPECT_TRUE(s.client->wait_text("*** no answer from the server for 4 s")) << s.client->dump();
  s.server.send(packet(proto::Chat{"pat", "anyone?"}));  // the echo, late
  EXPECT_TRUE(s.client->wait_text("*** the server answers again (")) << s.client->dump();
}

TEST(ChatClientDaily, BackoffGrowsWhileTheServerStaysAway) {
  auto server = std::make_unique<FakeServer>();
  PtyClient client({"--timestamps=off", "pat", "127.0.0.1", server->port()}, kRows, 80);
  ASSERT_TRUE(server->accept());
  ASSERT_TRUE(server->read_frame().has_value());
  ASSERT_TRUE(client.wait_row(kInputRow, "pat>"));
  server.reset();  // listener and connection gone: every retry is refused
  EXPECT_TRUE(client.wait_text("*** reconnecting in 1 s (attempt 1)")) << client.dump();
  EXPECT_TRUE(client.wait_text("*** reconnecting in 2 s (attempt 2)")) << client.dump();
  EXPECT_TRUE(client.wait_text("Connection refused"));
  client.type("\x04");  // Ctrl-D still quits while waiting
  EXPECT_EQ(client.wait_exit(), 0);
}

// ---- item 6: any server -------------------------------------------------------

TEST(ChatClientDaily, EmptyFrameIsSkippedWithANoticeNotADisconnect) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.server.send_raw(std::string("\0\0", 2));
  s.server.send(packet(proto::Chat{"chris", "still here"}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "chris: still here")) << s.client->dump();
  EXPECT_TRUE(s.client->wait_text("*** the server sent an empty frame; skipped"));
}

TEST(ChatClientDaily, AgainstAPart1ServerExtensionsAnswerLocally) {
  Session s({"--timestamps=off"});
  ASSERT_TRUE(s.ok);
  s.server.send(packet(proto::Join{"pat", std::nullopt}));  // no welcome: Part 1
  ASSERT_TRUE(s.client->wait_text("*** pat has joined the chat"));
  s.client->type("/who\r");
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "*** /who is not supported by this server"));
  s.client->type("/me waves\r");
  EXPECT_EQ(chat_text(s.server.read_frame()), "*waves*");
}

// ---- item 7: pipe mode for bots -------------------------------------------------

TEST(ChatClientDaily, PipeModeMakesBotLinesSendable) {
  FakeServer server;
  PipedClient bot({"bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  bot.write_stdin(
      "a\tb\x1b[31mred\x1b[0m \xff\x1b]0;title\x07"
      "end\x01\n");
  EXPECT_EQ(chat_text(server.read_frame()),
            "a       bred \xEF\xBF\xBD"
            "end");
  bot.write_stdin(std::string(70000, 'z') + "\nafter\n");
  EXPECT_EQ(chat_text(server.read_frame()), "after");
  bot.close_stdin();
  EXPECT_TRUE(server.read_eof());
  server.close_client();
  EXPECT_EQ(bot.wait_exit(), 65);
  EXPECT_NE(bot.read_all_stderr().find("input line 2 is too long"), std::string::npos);
}

// ---- item 8: config file and log file -------------------------------------------

// A temporary XDG_CONFIG_HOME with a chat_client/config, removed afterwards.
struct ConfigDir {
  explicit ConfigDir(const std::string& config) {
    char tmpl[] = "/tmp/chat-client-test-XXXXXX";
    path = ::mkdtemp(tmpl);
    std::filesystem::create_directories(path + "/chat_client");
    std::ofstream(path + "/chat_client/config") << config;
  }
  ~ConfigDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(ChatClientDaily, ConfigFileSetsOptionsAndTheCommandLineWins) {
  ConfigDir dir("timestamps = \"HH:MM:SS\"\nbell = \"off\"\n");
  {
    Session s({}, {"XDG_CONFIG_HOME=" + dir.path});
    ASSERT_TRUE(s.ok);
    s.server.send(packet(proto::Chat{"chris", "old", true, kThen}));
    EXPECT_TRUE(s.client->wait_row(kLastLineRow, "[22:13:20] chris: old")) << s.client->dump();
    s.server.send(packet(proto::Dm{"eve", "pat", "psst"}));
    ASSERT_TRUE(s.client->wait_text("eve -> pat: psst"));
    EXPECT_EQ(s.bells(), 0);
  }
  Session s({"--timestamps=off"}, {"XDG_CONFIG_HOME=" + dir.path});
  ASSERT_TRUE(s.ok);
  s.server.send(packet(proto::Chat{"chris", "old", true, kThen}));
  EXPECT_TRUE(s.client->wait_row(kLastLineRow, "chris: old")) << s.client->dump();
}

TEST(ChatClientDaily, LogFileGetsEveryLineWithDateAndTime) {
  ConfigDir dir("");
  const std::string log = dir.path + "/chat.log";
  Session s({"--timestamps=off", "--log-file=" + log});
  ASSERT_TRUE(s.ok);
  s.server.send(packet(proto::Chat{"chris", "old", true, kThen}));
  s.server.send(packet(proto::Chat{"chris", "new"}));
  ASSERT_TRUE(s.client->wait_row(kLastLineRow, "chris: new"));
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_NE(text.str().find("2023-11-14 22:13:20 [history] chris: old\n"), std::string::npos)
      << text.str();
  EXPECT_TRUE(
      std::regex_search(text.str(), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d chris: new\n)")))
      << text.str();
}

}  // namespace
}  // namespace chat::test
