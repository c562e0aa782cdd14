// Terminal safety: a hostile server sends every control character, escape sequence, bidi
// override and invalid UTF-8 in every packet; chat_client's pty output must stay its own.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"
#include "protocol/codec.hpp"
#include "protocol/rules.hpp"

namespace chat::test {
namespace {

constexpr int kRows = 24;
constexpr int kInputRow = kRows - 1;
constexpr int kLastLineRow = kRows - 2;

std::string utf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Everything a peer could try on a terminal. Each is later wrapped in "<" ">" so that
// its bytes can be looked for, in context, in what the client wrote to the pty.
std::vector<std::string> hostile_strings() {
  std::vector<std::string> out;
  for (char32_t c = 0; c < 0x20; ++c) {
    out.push_back(utf8(c));  // every C0 control (NUL included), JSON-escaped on the wire
  }
  out.push_back("\x7f");
  for (char32_t c = 0x80; c <= 0x9F; ++c) {
    out.push_back(utf8(c));  // every C1 control as a code point (U+0080..U+009F)
  }
  const std::vector<std::string> sequences{
      "\x1b[2J",                        // clear screen
      "\x1b[H\x1b[2J\x1b[3J",           // home, clear, clear scrollback
      "\x1b[10A\x1b[5B\x1b[3C\x1b[2D",  // cursor moves
      "\x1b[5;5H",                      // cursor position
      "\x1b[1;24r",                     // scroll region
      "\x1b[31;1;4;5mred",              // colours and blink
      "\x1b[?25l",                      // hide the cursor
      "\x1b[?1049h",                    // alternate screen
      "\x1b[6n",                        // cursor position report (answers into the input!)
      "\x1b[21t",                       // window title report
      "\x1b"
      "7\x1b"
      "8",  // save / restore cursor
      "\x1b"
      "c",  // full reset
      "\x1b"
      "D\x1b"
      "M\x1b"
      "E",                                             // index, reverse index, next line
      "\x1b]0;pwned\x07",                              // OSC set title (BEL)
      "\x1b]2;pwned\x1b\\",                            // OSC set title (ST)
      "\x1b]52;c;ZXZpbA==\x07",                        // OSC 52 clipboard write
      "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",  // OSC 8 hyperlink
      "\x1bP1$r0m\x1b\\",                              // DCS
      "\x1bPq#0;2;0;0;0#0~~\x1b\\",                    // DCS sixel
      "\x1b_apc\x1b\\",                                // APC
      "\x1b^pm\x1b\\",                                 // PM
      "\x1bXsos\x1b\\",                                // SOS
      "\xc2\x9b"
      "2J",  // 8-bit CSI as U+009B
      "\xc2\x9d"
      "0;t\xc2\x9c",            // 8-bit OSC ... ST
      "\xc2\x90q\xc2\x9c",      // 8-bit DCS ... ST
      "\x1b(0lqk",              // line-drawing character set
      "\x1b#8",                 // screen alignment test (fills with E)
      "\r\x1b[Kfake prompt> ",  // carriage return and erase: forging a line
      "\b\b\b\bxxxx",           // backspaces over earlier text
      "line\nsecond line",      // a newline inside one message
      "\t\v\f",                 // other whitespace controls
  };
  out.insert(out.end(), sequences.begin(), sequences.end());
  for (char32_t c = 0x202A; c <= 0x202E; ++c) {
    out.push_back(utf8(c) + "evil");  // bidi embeddings and overrides
  }
  for (char32_t c = 0x2066; c <= 0x2069; ++c) {
    out.push_back(utf8(c) + "evil");  // bidi isolates
  }
  // Invalid UTF-8: stray bytes, 8-bit C1 as raw bytes, overlongs, surrogates,
  // truncated sequences, beyond U+10FFFF.
  const std::vector<std::string> invalid{
      "\xff",
      "\xfe\xfe",
      "\x9b"
      "2J",
      "\x80\x9f",
      "\xc0\x80",
      "\xc1\xbf",
      "\xe0\x80\x80",
      "\xed\xa0\x80",
      "\xed\xbf\xbf",
      "\xe2\x82",
      "\xf0\x9f\x98",
      "\xf4\x90\x80\x80",
      "\xf5\x80\x80\x80",
      "\xc0\x9b"
      "2J",
      "\xe0\x82\x9b"
      "2J",
  };
  out.insert(out.end(), invalid.begin(), invalid.end());
  return out;
}

std::string wrap(const std::string& h) {
  return "<" + h + ">";
}

// Every server packet type with `t` in each text member the client may show or use.
std::vector<std::string> packets_with(const std::string& t) {
  using namespace proto;
  std::vector<std::string> out;
  const auto add = [&](ServerPacket p) { out.push_back(encode(p)); };
  add(Chat{t, t, false});
  add(Chat{"mallory", t, true});
  add(Join{t, std::nullopt});
  add(Join{t, t});
  add(Leave{t, std::nullopt});
  add(Leave{"mallory", t});
  add(Dm{t, t, t});
  add(Emote{t, t, false});
  add(Emote{t, t, true});
  add(WhoReply{t, {t, "mallory", t}});
  add(RoomsReply{{RoomInfo{t, 3}, RoomInfo{"lobby", 1}}});
  add(Info{t});
  add(Error{t, t});  // a code the client does not know, and a hostile message
  return out;
}

// The escape sequences (by kind: CSI with its final byte and private marker, or
// ESC and the next byte) and stray control bytes in `raw`.
std::set<std::string> vocabulary(const std::string& raw) {
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == 0x1B && i + 1 < raw.size()) {
      if (raw[i + 1] == '[') {
        std::size_t j = i + 2;
        const bool priv = j < raw.size() && raw[j] == '?';
        while (j < raw.size() && static_cast<unsigned char>(raw[j]) >= 0x20 &&
               static_cast<unsigned char>(raw[j]) <= 0x3F) {
          ++j;
        }
        kinds.insert(std::string("CSI ") + (priv ? "?" : "") +
                     (j < raw.size() ? raw.substr(j, 1) : "<cut>"));
        i = j;
      } else {
        kinds.insert(std::string("ESC ") + raw[i + 1]);
        ++i;
      }
    } else if ((c < 0x20 && c != '\r' && c != '\n') || c == 0x7F) {
      kinds.insert("C0 " + std::to_string(c));
    }
  }
  return kinds;
}

std::string join_set(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) {
    out += "[" + x + "] ";
  }
  return out;
}

// One chat_client in a pty against a server played by the test.
struct Session {
  FakeServer server;
  std::unique_ptr<PtyClient> client;

  ::testing::AssertionResult start() {
    client = std::make_unique<PtyClient>(
        // No timestamps: the layout checks below look for a line's text at a row's start.
        std::vector<std::string>{"--timestamps=off", "--no-reconnect", "pat", "127.0.0.1",
                                 server.port()},
        kRows, 80);
    if (!server.accept()) {
      return ::testing::AssertionFailure() << "the client did not connect";
    }
    if (!server.read_frame().has_value()) {
      return ::testing::AssertionFailure() << "no hello";
    }
    if (!client->wait_row(kInputRow, "pat>")) {
      return ::testing::AssertionFailure() << "no prompt:\n" << client->dump();
    }
    return ::testing::AssertionSuccess();
  }
  // Sends the payloads, then a sentinel line, and waits until it is shown: by then
  // the client has processed everything before it.
  ::testing::AssertionResult send_all(const std::vector<std::string>& payloads,
                                      const std::string& sentinel) {
    for (const auto& p : payloads) {
      server.send(p);
    }
    server.send(proto::encode(proto::ServerPacket{proto::Chat{"sentinel", sentinel, false}}));
    if (!client->wait_text("sentinel: " + sentinel)) {
      return ::testing::AssertionFailure() << "sentinel never shown:\n" << client->dump();
    }
    return ::testing::AssertionSuccess();
  }
  // The client still reads the keyboard and sends what is typed.
  ::testing::AssertionResult still_works() {
    client->type("still alive\r");
    const auto frame = server.read_frame();
    if (!frame) {
      return ::testing::AssertionFailure() << "the client sent nothing after the hostile input";
    }
    auto decoded = proto::decode_client(*frame);
    const auto* packet = std::get_if<proto::ClientPacket>(&decoded);
    const auto* chat = packet != nullptr ? std::get_if<proto::ChatRequest>(packet) : nullptr;
    if (chat == nullptr || chat->message != "still alive") {
      return ::testing::AssertionFailure() << "unexpected frame from the client: " << *frame;
    }
    return ::testing::AssertionSuccess();
  }
};

class TerminalSafety : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto* s : {&harmless_, &hostile_}) {
      if (s->client) {
        EXPECT_EQ(s->client->raw().find("Sanitizer"), std::string::npos) << s->client->raw();
      }
    }
    if (HasFailure() && hostile_.client) {
      std::cerr << "hostile run screen:\n" << hostile_.client->dump();
    }
  }
  Session harmless_;
  Session hostile_;
};

TEST_F(TerminalSafety, EveryControlCharacterEscapeSequenceAndBadByteInEveryPacketIsInert) {
  const auto strings = hostile_strings();
  // The same packets with harmless text: the escape sequences chat_client uses itself.
  ASSERT_TRUE(harmless_.start());
  std::vector<std::string> harmless_payloads;
  for (std::size_t i = 0; i < strings.size(); ++i) {
    for (auto& p : packets_with(wrap("harmless" + std::to_string(i)))) {
      harmless_payloads.push_back(std::move(p));
    }
  }
  ASSERT_TRUE(harmless_.send_all(harmless_payloads, "done"));
  const auto own = vocabulary(harmless_.client->raw());
  ASSERT_FALSE(own.empty()) << "the client drew nothing?";

  ASSERT_TRUE(hostile_.start());
  std::vector<std::string> payloads;
  for (const auto& h : strings) {
    for (auto& p : packets_with(wrap(h))) {
      payloads.push_back(std::move(p));
    }
  }
  ASSERT_TRUE(hostile_.send_all(payloads, "done"));
  const std::string raw = hostile_.client->raw();

  // 1. Nothing the client does not produce itself, by kind.
  const auto seen = vocabulary(raw);
  std::set<std::string> foreign;
  for (const auto& k : seen) {
    if (own.count(k) == 0) {
      foreign.insert(k);
    }
  }
  EXPECT_TRUE(foreign.empty()) << "sequences or controls the client never uses itself: "
                               << join_set(foreign) << "\n(its own: " << join_set(own) << ")";
  // 2. No hostile sequence of a kind the client also uses (CSI H, CSI 2J, ...) passed
  //    through: none appears between its "<" ">" markers, nor even starts after "<".
  for (std::size_t i = 0; i < strings.size(); ++i) {
    const auto& h = strings[i];
    EXPECT_EQ(raw.find(wrap(h)), std::string::npos) << "hostile string #" << i << " verbatim";
    const auto c = static_cast<unsigned char>(h[0]);
    if (c < 0x20 || c == 0x7F || c >= 0x80) {
      EXPECT_EQ(raw.find("<" + h.substr(0, 1)), std::string::npos)
          << "hostile string #" << i << " reached the terminal starting with byte " << int(c);
    }
  }
  // 3. The screen model (tests/client/harness.cpp) saw nothing beyond the client's own
  //    small set: no stray C0/C1, bidi control or invalid UTF-8 byte.
  EXPECT_EQ(hostile_.client->unexpected(), std::vector<std::string>{});
  // 4. The layout held: the sentinel is on the last conversation row, the prompt below.
  EXPECT_TRUE(hostile_.client->wait_row(kLastLineRow, "sentinel: done"));
  EXPECT_TRUE(hostile_.client->wait_screen([](const VtScreen& s) {
    return s.row(kInputRow).rfind("pat>", 0) == 0 && s.cursor_row() == kInputRow;
  })) << hostile_.client->dump();
  // 5. And it keeps running.
  EXPECT_TRUE(hostile_.still_works());
  std::cout << "[ figures  ] " << strings.size() << " hostile strings x "
            << packets_with("x").size() << " packet shapes = " << payloads.size()
            << " packets; client sequence kinds: " << join_set(own) << "\n";
}

TEST_F(TerminalSafety, RawControlBytesInsideJsonStringsNeverReachTheTerminal) {
  // Not JSON-escaped: unescaped controls make the JSON invalid, raw 8-bit bytes make
  // it invalid UTF-8. The client must drop or neutralise them, and go on.
  ASSERT_TRUE(hostile_.start());
  std::vector<std::string> payloads;
  for (int c = 0; c < 0x20; ++c) {
    const std::string b(1, static_cast<char>(c));
    payloads.push_back(R"({"type":"chat","nick":"m)" + b + R"(","message":"<)" + b + R"(>"})");
  }
  for (int c = 0x7F; c <= 0xFF; ++c) {
    const std::string b(1, static_cast<char>(c));
    payloads.push_back(R"({"type":"chat","nick":"mallory","message":"<)" + b + R"(>"})");
    payloads.push_back(R"({"type":"join","nick":"<)" + b + R"(>"})");
    payloads.push_back(R"({"type":"error","code":"x)" + b + R"(","message":"<)" + b + R"(>"})");
  }
  payloads.push_back("\x1b[2J");  // a payload that is not JSON at all
  payloads.push_back(std::string("\x00\x00", 2));
  ASSERT_TRUE(hostile_.send_all(payloads, "raw done"));
  const std::string raw = hostile_.client->raw();
  EXPECT_EQ(hostile_.client->unexpected(), std::vector<std::string>{});
  for (int c = 0; c <= 0xFF; ++c) {
    if ((c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n') {
      continue;
    }
    EXPECT_EQ(raw.find("<" + std::string(1, static_cast<char>(c)) + ">"), std::string::npos)
        << "raw byte " << c << " reached the terminal";
  }
  EXPECT_TRUE(hostile_.still_works());
}

TEST_F(TerminalSafety, HostileNickAndRoomInWelcomeAndOwnJoinCannotTakeOverThePrompt) {
  // welcome and our own join with `room` change the prompt: text the client draws
  // on every keystroke, so a sequence there would replay constantly.
  ASSERT_TRUE(hostile_.start());
  using namespace proto;
  const std::string evil =
      "\x1b]0;pwned\x07\x1b[2J\xe2\x80\xae\xc2\x9b"
      "1A";
  hostile_.server.send(encode(ServerPacket{Welcome{"pat" + evil, "chatd/" + evil, {evil}, evil}}));
  hostile_.server.send(encode(ServerPacket{Join{"pat" + evil, "games" + evil}}));
  ASSERT_TRUE(hostile_.send_all({}, "prompt done"));
  hostile_.client->type("typed");
  ASSERT_TRUE(hostile_.client->wait_screen([](const VtScreen& s) {
    const std::string row = s.row(kInputRow);
    return row.find("typed") != std::string::npos;
  })) << hostile_.client->dump();
  const std::string raw = hostile_.client->raw();
  EXPECT_EQ(raw.find("\x1b]"), std::string::npos);
  EXPECT_EQ(raw.find("\x07"), std::string::npos);
  EXPECT_EQ(raw.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_EQ(raw.find("\xc2\x9b"), std::string::npos);
  EXPECT_EQ(raw.find("pat\x1b"), std::string::npos);
  EXPECT_EQ(hostile_.client->unexpected(), std::vector<std::string>{});
  hostile_.client->type("\r");
  const auto frame = hostile_.server.read_frame();
  ASSERT_TRUE(frame.has_value());
  EXPECT_NE(frame->find("typed"), std::string::npos) << *frame;
}

TEST(TerminalSafetyPlain, OutputToAPipeIsInertToo) {
  // Scripts read chat_client's stdout: it must not carry escape sequences either.
  FakeServer server;
  PipedClient client({"bot", "127.0.0.1", server.port()});
  ASSERT_TRUE(server.accept());
  ASSERT_TRUE(server.read_frame().has_value());
  const auto strings = hostile_strings();
  for (const auto& h : strings) {
    for (const auto& p : packets_with(wrap(h))) {
      server.send(p);
    }
  }
  server.send(proto::encode(proto::ServerPacket{proto::Chat{"sentinel", "plain done", false}}));
  ASSERT_TRUE(client.wait_stdout("sentinel: plain done\n"));
  client.close_stdin();
  server.close_client();
  client.wait_exit();
  const std::string out = client.read_all_stdout();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    ASSERT_FALSE((c < 0x20 && c != '\n') || c == 0x7F)
        << "control byte " << int(c) << " at offset " << i << " of the plain output";
  }
  EXPECT_TRUE(proto::is_valid_utf8(out));
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos);
  EXPECT_EQ(out.find("\xe2\x80\xae"), std::string::npos);
}

}  // namespace
}  // namespace chat::test
