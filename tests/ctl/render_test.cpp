// chatctl's rendering of replies: tables, lines, JSON passthrough, result -> exit status.
#include "ctl/render.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ctl/exit_codes.hpp"

namespace chat::ctl {
namespace {

constexpr std::string_view kWho =
    R"({"type":"who","result":"ok","message":"","users":[)"
    R"({"nick":"pat","peer":"127.0.0.1:5000","room":"lobby","since":1764118800,)"
    R"("messages_in":1,"messages_out":22,"bytes_in":30,"bytes_out":4000,"sendq_bytes":0},)"
    R"({"nick":"小明","peer":"[::1]:6000","room":"games","since":1764118861,)"
    R"("messages_in":333,"messages_out":4,"bytes_in":5,"bytes_out":6,"sendq_bytes":77}],"total":2})";

TEST(ChatctlRender, WhoIsAnAlignedTable) {
  const auto r = render_reply("who", kWho, false);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "NICK  PEER            ROOM   SINCE                 MSGS-IN  MSGS-OUT  BYTES-IN  "
            "BYTES-OUT  SENDQ\n"
            "pat   127.0.0.1:5000  lobby  2025-11-26T01:00:00Z        1        22        30  "
            "     4000      0\n"
            "小明  [::1]:6000      games  2025-11-26T01:01:01Z      333         4         5  "
            "        6     77\n");
}

TEST(ChatctlRender, WhoWithNobodySaysSo) {
  const auto r =
      render_reply("who", R"({"type":"who","result":"ok","message":"","users":[]})", false);
  EXPECT_EQ(r.out, "no users connected\n");
}

TEST(ChatctlRender, JsonPrintsTheReplyUnchanged) {
  const auto r = render_reply("who", kWho, true);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.out, std::string(kWho) + "\n");
  const auto e = render_reply(
      "kick", R"({"type":"kick","result":"no-such-nick","message":"no user is called bob"})", true);
  EXPECT_EQ(e.exit_code, kExitError);
  EXPECT_EQ(e.out, R"({"type":"kick","result":"no-such-nick","message":"no user is called bob"})"
                   "\n");
}

TEST(ChatctlRender, StatusIsOneAlignedLinePerCounter) {
  const auto r = render_reply(
      "status",
      R"({"type":"status","result":"ok","message":"","version":"0.1.0","uptime_s":3723,)"
      R"("clients":2,"rooms":1,"event_loop":"epoll","max_clients":100,"messages_in":10,)"
      R"("messages_out":20,"bytes_in":300,"bytes_out":4000})",
      false);
  EXPECT_EQ(r.out,
            "version:      0.1.0\n"
            "uptime:       1h 2m 3s\n"
            "clients:      2 of 100\n"
            "rooms:        1\n"
            "event loop:   epoll\n"
            "messages in:  10\n"
            "messages out: 20\n"
            "bytes in:     300\n"
            "bytes out:    4000\n");
  // A chatd that counts users (clients that joined) says so on the line after clients.
  const auto with_users =
      render_reply("status",
                   R"({"type":"status","result":"ok","message":"","version":"0.1.0","uptime_s":1,)"
                   R"("clients":3,"users":2,"rooms":1,"event_loop":"epoll","max_clients":100,)"
                   R"("messages_in":0,"messages_out":0,"bytes_in":0,"bytes_out":0})",
                   false);
  EXPECT_NE(with_users.out.find("clients:      3 of 100\nusers:        2\nrooms:        1\n"),
            std::string::npos)
      << with_users.out;
}

TEST(ChatctlRender, OtherCommandsPrintOneLineEach) {
  EXPECT_EQ(render_reply("version",
                         R"({"type":"version","result":"ok","message":"","version":"0.1.0",)"
                         R"("protocol":1})",
                         false)
                .out,
            "chatd 0.1.0, protocol 1\n");
  EXPECT_EQ(
      render_reply("say", R"({"type":"say","result":"ok","message":"","recipients":1})", false).out,
      "said to 1 client\n");
  EXPECT_EQ(
      render_reply("kick", R"({"type":"kick","result":"ok","message":"kicked pat"})", false).out,
      "kicked pat\n");
  EXPECT_EQ(render_reply("list-commands",
                         R"({"type":"list-commands","result":"ok","message":"",)"
                         R"("commands":["status","who"]})",
                         false)
                .out,
            "status\nwho\n");
}

TEST(ChatctlRender, ErrorResultExitsOneWithTheMessageOnStderr) {
  const auto r = render_reply(
      "kick", R"({"type":"kick","result":"no-such-nick","message":"no user is called bob"})",
      false);
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "chatctl: kick: no-such-nick: no user is called bob\n");
}

TEST(ChatctlRender, PermissionDeniedResultExits77) {
  const auto r = render_reply(
      "who", R"({"type":"who","result":"permission-denied","message":"permission denied"})", false);
  EXPECT_EQ(r.exit_code, kExitNoPerm);
  EXPECT_EQ(exit_code_for_result("permission-denied"), 77);
  EXPECT_EQ(exit_code_for_result("ok"), 0);
  EXPECT_EQ(exit_code_for_result("internal-error"), 1);
}

TEST(ChatctlRender, ReplyThatIsNotAControlReplyExits76) {
  for (const std::string_view bad : {std::string_view("nonsense"), std::string_view("[]"),
                                     std::string_view(R"({"type":"who"})")}) {
    const auto r = render_reply("who", bad, false);
    EXPECT_EQ(r.exit_code, kExitProtocol) << bad;
    EXPECT_NE(r.err, "");
  }
}

TEST(ChatctlRender, ControlCharactersFromTheDaemonAreShownInert) {
  const auto r = render_reply(
      "kick", R"({"type":"kick","result":"ok","message":"kicked \u001b[2Jpat\u0007"})", false);
  EXPECT_EQ(r.out, "kicked ^[[2Jpat^G\n");  // as chat_client shows them (common/text_safety)
}

// Issue 10 item 9: text clients choose (nick, room) and every other string of a reply
// reaches the operator's terminal only inert, and the table stays aligned.
std::string who_with(std::string_view nick_json, std::string_view peer_json,
                     std::string_view room_json) {
  return std::string(R"({"type":"who","result":"ok","message":"","users":[{"nick":)") +
         std::string(nick_json) + R"(,"peer":)" + std::string(peer_json) + R"(,"room":)" +
         std::string(room_json) +
         R"(,"since":1764118800,"messages_in":1,"messages_out":2,"bytes_in":3,"bytes_out":4,)"
         R"("sendq_bytes":0},{"nick":"pat","peer":"127.0.0.1:1","room":"lobby","since":1764118800,)"
         R"("messages_in":1,"messages_out":2,"bytes_in":3,"bytes_out":4,"sendq_bytes":0}]})";
}

TEST(ChatctlRender, WhoShowsABidiOverrideNickInert) {
  // U+202E would reverse the rest of the row (and hide the columns after it).
  const auto r =
      render_reply("who", who_with(R"("\u202etap")", R"("[::1]:2")", R"("lobby")"), false);
  EXPECT_EQ(r.out.find("\u202e"), std::string::npos);
  EXPECT_EQ(r.out.find("\u2066"), std::string::npos);
  EXPECT_NE(r.out.find("\ufffdtap  [::1]:2"), std::string::npos) << r.out;
  // Isolates too.
  const auto i =
      render_reply("who", who_with(R"("a\u2066b\u2069")", R"("p")", R"("r\u202ax")"), false);
  EXPECT_NE(i.out.find("a\ufffdb\ufffd"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("r\ufffdx"), std::string::npos) << i.out;
}

TEST(ChatctlRender, WhoShowsEscapeSequencesAndC1ControlsInert) {
  const auto r = render_reply(
      "who", who_with(R"("\u001b]0;owned\u0007x")", R"("\u001b[2J\u001b[H")", R"("\u009b31mred")"),
      false);
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_EQ(r.out.find("\xc2\x9b"), std::string::npos);  // CSI as a C1 code point
  EXPECT_NE(r.out.find("^[]0;owned^Gx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("^[[2J^[[H"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ufffd31mred"), std::string::npos) << r.out;
}

TEST(ChatctlRender, WhoShowsInvalidUtf8AsReplacementCharacters) {
  // RapidJSON passes raw bytes through; the daemon could be old or compromised.
  const auto r =
      render_reply("who", who_with("\"pa\xff\xfet\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\""), false);
  EXPECT_NE(r.out.find("pa\ufffd\ufffdt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ufffd\ufffd\ufffd"), std::string::npos) << r.out;
  for (const unsigned char bad : {0xffU, 0xfeU, 0xc0U}) {
    EXPECT_EQ(r.out.find(static_cast<char>(bad)), std::string::npos);
  }
}

TEST(ChatctlRender, WhoTableStaysAlignedAroundHostileNicks) {
  // Each row's PEER column starts at the same display column whatever the nick held.
  const auto r =
      render_reply("who", who_with(R"("\u001b[2J\u202e\u0301x")", R"("p1")", R"("lobby")"), false);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < r.out.size()) {
    const auto end = r.out.find('\n', start);
    lines.push_back(r.out.substr(start, end - start));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 3U);
  const auto column = [](const std::string& line, std::string_view what) {
    return display_width(line.substr(0, line.find(what)));
  };
  EXPECT_EQ(column(lines[0], "PEER"), column(lines[1], "p1"));
  EXPECT_EQ(column(lines[0], "PEER"), column(lines[2], "127.0.0.1:1"));
}

TEST(ChatctlRender, ErrorLinesShowTheDaemonsTextInert) {
  const auto r = render_reply(
      "kick", R"({"type":"kick","result":"no-such\u001b[2J","message":"no \u202eevil\u0085"})",
      false);
  EXPECT_EQ(r.err, "chatctl: kick: no-such^[[2J: no \ufffdevil\ufffd\n");
}

TEST(ChatctlRender, DisplayWidthCountsWideCharactersTwice) {
  EXPECT_EQ(display_width("pat"), 3u);
  EXPECT_EQ(display_width("小明"), 4u);
  EXPECT_EQ(display_width("Zoë"), 3u);
  EXPECT_EQ(display_width("🙂"), 2u);
  EXPECT_EQ(display_width("e\u0301"), 1u);   // combining mark: no column of its own
  EXPECT_EQ(display_width("한국"), 4u);      // Hangul syllables
  EXPECT_EQ(display_width("ｐａｔ"), 6u);    // fullwidth forms
  EXPECT_EQ(display_width("a\u200bb"), 2u);  // zero width space
  EXPECT_EQ(display_width("\x1b"), 2u);      // counted as shown: "^["
}

}  // namespace
}  // namespace chat::ctl
